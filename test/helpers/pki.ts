// Certificates for tests: one cluster CA per test process, node and operator certificates issued
// from it on demand (and cached), as TLS directories in a temp dir removed at the end.
import { join } from 'node:path';
import {
  createCa,
  issueCertificate,
  tlsClient,
  writeTlsDir,
  type CaMaterial,
  type ControlClient,
  type Role,
  type TlsFiles,
} from '../../src/pki/index.js';
import { tempDir } from './tmp.js';

export interface TestPki {
  readonly ca: CaMaterial;
  /** PEM text of a certificate for `role` (agents and masters: `ips`). */
  files(role: Role, ips?: readonly string[], name?: string): Promise<TlsFiles>;
  /** The same as a TLS directory (for --tls-dir). */
  dir(role: Role, ips?: readonly string[], name?: string): Promise<string>;
  /** A fetch with that certificate (closed at the end of the file by the caller's t.after). */
  client(role: Role, ips?: readonly string[], name?: string): Promise<ControlClient>;
}

let shared: Promise<TestPki> | undefined;

export async function makePki(): Promise<TestPki> {
  const ca = await createCa();
  const root = await tempDir('pki');
  const issued = new Map<string, Promise<TlsFiles>>();
  const dirs = new Map<string, Promise<string>>();
  const key = (role: Role, ips: readonly string[], name: string | undefined): string =>
    `${role}|${ips.join(',')}|${name ?? ''}`;
  const files = (role: Role, ips: readonly string[] = [], name?: string): Promise<TlsFiles> => {
    const k = key(role, ips, name);
    let p = issued.get(k);
    if (!p) {
      p = issueCertificate(ca, {
        role,
        ips,
        ...(name !== undefined ? { name } : role === 'operator' && ips.length === 0 && { name: 'test' }),
      }).then((c) => ({ ca: ca.certPem, cert: c.certPem, key: c.keyPem }));
      issued.set(k, p);
    }
    return p;
  };
  return {
    ca,
    files,
    dir(role, ips = [], name) {
      const k = key(role, ips, name);
      let p = dirs.get(k);
      if (!p) {
        p = (async () => {
          const dir = join(root, `${role}-${dirs.size}`);
          await writeTlsDir(dir, await files(role, ips, name));
          return dir;
        })();
        dirs.set(k, p);
      }
      return p;
    },
    async client(role, ips = [], name) {
      return tlsClient(await files(role, ips, name));
    },
  };
}

/** The test process's PKI (one CA for every test in the file). */
export function testPki(): Promise<TestPki> {
  shared ??= makePki();
  return shared;
}
