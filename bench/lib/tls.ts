// Certificates for benchmarks: a throwaway cluster CA and the TLS directories a run needs.
import { join } from 'node:path';
import { createCa, issueCertificate, writeTlsDir, type Role, type TlsFiles } from '../../src/pki/index.js';

export interface BenchPki {
  /** A TLS directory for `dcnet master --tls-dir` (127.0.0.1). */
  readonly masterDir: string;
  files(role: Role, ips?: string[], name?: string): Promise<TlsFiles>;
}

export async function benchPki(dir: string): Promise<BenchPki> {
  const ca = await createCa();
  const files = async (role: Role, ips: string[] = [], name?: string): Promise<TlsFiles> => {
    const c = await issueCertificate(ca, { role, ips, ...(name !== undefined && { name }) });
    return { ca: ca.certPem, cert: c.certPem, key: c.keyPem };
  };
  const masterDir = join(dir, 'master-tls');
  await writeTlsDir(masterDir, await files('master', ['127.0.0.1']));
  return { masterDir, files };
}
