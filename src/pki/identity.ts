// Who is on the other end of a TLS connection: read from a certificate that the TLS layer verified
// against the cluster CA, never from anything the peer says about itself.
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { formatAddress, parseAddress } from '../net/index.js';
import { isRole, ROLE_ORG_PREFIX, type Identity } from './types.js';

function attribute(subject: string, name: string): string[] {
  return subject
    .split('\n')
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1));
}

/** IP SANs, canonical text; Node writes them as "IP Address:…" in a comma-separated list. */
function sanIps(san: string | undefined): string[] {
  const ips: string[] = [];
  for (const part of (san ?? '').split(', ')) {
    if (!part.startsWith('IP Address:')) continue;
    const a = parseAddress(part.slice('IP Address:'.length));
    if (a) ips.push(formatAddress(a.family, a.value));
  }
  return ips;
}

/** The dcnet identity a certificate names (O=dcnet:<role>, CN=<role>:<name>, IP SANs), or
 *  undefined when it names none. Only call it on a certificate whose chain was verified. */
export function identityOf(cert: X509Certificate | PeerCertificate): Identity | undefined {
  let x: X509Certificate;
  try {
    x = cert instanceof X509Certificate ? cert : new X509Certificate(cert.raw);
  } catch {
    return undefined;
  }
  const orgs = attribute(x.subject, 'O');
  const cns = attribute(x.subject, 'CN');
  if (orgs.length !== 1 || cns.length !== 1) return undefined;
  const org = orgs[0]!;
  if (!org.startsWith(ROLE_ORG_PREFIX)) return undefined;
  const role = org.slice(ROLE_ORG_PREFIX.length);
  if (!isRole(role) || !cns[0]!.startsWith(`${role}:`)) return undefined;
  const ips = sanIps(x.subjectAltName);
  if (role === 'agent' && ips.length === 0) return undefined;
  return { role, ips, name: cns[0]!.slice(role.length + 1) };
}

const bySocket = new WeakMap<TLSSocket, Identity | null>();

/** The identity of a TLS client whose certificate chains to our CA; undefined for none, an
 *  unverified one, or one that names no dcnet role. Cached per connection. */
export function peerIdentity(socket: TLSSocket): Identity | undefined {
  const cached = bySocket.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  let id: Identity | undefined;
  if (socket.authorized) {
    const cert = socket.getPeerX509Certificate();
    id = cert && identityOf(cert);
  }
  bySocket.set(socket, id ?? null);
  return id;
}

/** "agent:192.0.2.1" for logs and owner records. */
export const describeIdentity = (id: Identity): string => `${id.role}:${id.name}`;
