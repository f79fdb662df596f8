// TLS settings for control-plane servers and clients. Servers ask every client for a certificate
// but let the handshake finish without one, so that /health stays open and every other route
// answers a readable 401 (auth.ts) instead of a reset connection. Clients present their
// certificate, trust only the cluster CA and can insist that the server is a master.
import { checkServerIdentity, createSecureContext, type PeerCertificate } from 'node:tls';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { identityOf } from './identity.js';
import type { Role, TlsFiles } from './types.js';

/** `https` options for a Fastify (node:https) server of the control plane. */
export function serverTlsOptions(files: TlsFiles): TlsOptions & SecureContextOptions {
  return {
    ca: files.ca,
    cert: files.cert,
    key: files.key,
    requestCert: true,
    // Verified in the request hook (401 with a reason), not by dropping the handshake.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
  };
}

/** Hostname check as usual, then the role: a server that is not `role` is not trusted. */
export function peerRoleCheck(
  role: Role | undefined,
): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (hostname, cert) => {
    const err = checkServerIdentity(hostname, cert);
    if (err) return err;
    if (role === undefined) return undefined;
    const id = identityOf(cert);
    if (id?.role !== role)
      return new Error(
        `${hostname} presented a certificate for ${id ? `${id.role}:${id.name}` : 'no dcnet role'}, not role ${role}`,
      );
    return undefined;
  };
}

/** What control-plane clients call: `fetch` with this node's credentials (or plain HTTP). */
export interface ControlClient {
  /** https with client certificates; false for an --insecure (plain HTTP) client. */
  readonly secure: boolean;
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface TlsClientOptions {
  /** Refuse servers whose certificate names another role (agents and followers: 'master'). */
  readonly requirePeerRole?: Role;
  /** Connections per origin (default unlimited: one per concurrent request or watch). */
  readonly connections?: number;
}

/** An undici dispatcher presenting `files`' certificate and trusting only its CA. */
export function tlsDispatcher(files: TlsFiles, opts: TlsClientOptions = {}): Agent {
  // One context for every connection: PEM parsing per connection would cost more than the
  // handshake itself.
  const secureContext = createSecureContext({
    ca: files.ca,
    cert: files.cert,
    key: files.key,
    minVersion: 'TLSv1.2',
  });
  return new Agent({
    ...(opts.connections !== undefined && { connections: opts.connections }),
    connect: {
      secureContext,
      rejectUnauthorized: true,
      checkServerIdentity: peerRoleCheck(opts.requirePeerRole),
    },
  });
}

export function tlsClient(files: TlsFiles, opts: TlsClientOptions = {}): ControlClient {
  const dispatcher = tlsDispatcher(files, opts);
  return {
    secure: true,
    fetch: (url, init) =>
      // undici's fetch is the one Node ships; its types are its own, the objects the same.
      undiciFetch(url, { ...(init as object), dispatcher } as Parameters<
        typeof undiciFetch
      >[1]) as unknown as Promise<Response>,
    close: () => dispatcher.close(),
  };
}

/** Plain HTTP (only behind --insecure). */
export const plainClient: ControlClient = {
  secure: false,
  fetch: (url, init) => fetch(url, init),
  close: async () => {},
};
