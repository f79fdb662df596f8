// The on-disk layout: a CA directory (ca.pem, ca-key.pem) kept where certificates are made, and a
// TLS directory per holder (ca.pem, cert.pem, key.pem) that daemons and the CLI read. Keys are
// written 0600; a missing or unreadable file is named in the error.
import { access, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError } from './certs.js';
import type { CaMaterial, TlsFiles } from './types.js';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';
/** The environment variable that stands for `--tls-dir`. */
export const TLS_DIR_ENV = 'DCNET_TLS_DIR';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function put(path: string, text: string, secret: boolean): Promise<void> {
  await writeFile(path, text, { mode: secret ? 0o600 : 0o644 });
  // writeFile's mode applies only to a new file: an old key file keeps no wider mode.
  await chmod(path, secret ? 0o600 : 0o644);
}

async function readPem(dir: string, file: string, what: string, label: RegExp): Promise<string> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PkiError(
      code === 'ENOENT'
        ? `${path}: missing (${what})`
        : `${path}: cannot read (${what}): ${(err as Error).message}`,
    );
  }
  if (!label.test(text)) throw new PkiError(`${path}: not a PEM ${what}`);
  return text;
}

const CERT_PEM = /-----BEGIN CERTIFICATE-----/;
const KEY_PEM = /-----BEGIN (EC |)PRIVATE KEY-----/;

/** Writes a new CA directory; refuses to replace an existing CA unless `force`. */
export async function writeCaDir(dir: string, ca: CaMaterial, opts: { force?: boolean } = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const f of [CA_CERT_FILE, CA_KEY_FILE]) {
    if (!opts.force && (await exists(join(dir, f))))
      throw new PkiError(
        `${join(dir, f)}: a CA exists already; every certificate it issued would stop working (use --force to replace it)`,
      );
  }
  await put(join(dir, CA_KEY_FILE), ca.keyPem, true);
  await put(join(dir, CA_CERT_FILE), ca.certPem, false);
}

export async function loadCaDir(dir: string): Promise<CaMaterial> {
  return {
    certPem: await readPem(dir, CA_CERT_FILE, 'CA certificate', CERT_PEM),
    keyPem: await readPem(dir, CA_KEY_FILE, 'CA private key', KEY_PEM),
  };
}

/** Writes a holder's TLS directory (ca.pem, cert.pem, key.pem). */
export async function writeTlsDir(dir: string, files: TlsFiles): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await put(join(dir, KEY_FILE), files.key, true);
  await put(join(dir, CERT_FILE), files.cert, false);
  await put(join(dir, CA_CERT_FILE), files.ca, false);
}

export async function loadTlsDir(dir: string): Promise<TlsFiles> {
  return {
    ca: await readPem(dir, CA_CERT_FILE, 'cluster CA certificate', CERT_PEM),
    cert: await readPem(dir, CERT_FILE, 'this node’s certificate', CERT_PEM),
    key: await readPem(dir, KEY_FILE, 'this node’s private key', KEY_PEM),
  };
}

/** The paths of a TLS directory (for curl and cluster.json). */
export function tlsDirPaths(dir: string): { dir: string; ca: string; cert: string; key: string } {
  return { dir, ca: join(dir, CA_CERT_FILE), cert: join(dir, CERT_FILE), key: join(dir, KEY_FILE) };
}
