// `--tls-dir DIR` / `DCNET_TLS_DIR` / `--insecure` for every command that is or talks to a master:
// load the directory, check that the certificate is the cluster CA's and of the expected role,
// or refuse to start with a message that says how to make one.
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Identity, Role, TlsFiles } from '../pki/index.js';
import { UsageError } from './usage-error.js';

/** pki's TLS_DIR_ENV, spelled here so that defining the options does not load the PKI (the
 *  certificate code is most of a CLI start); a unit test holds the two equal. */
export const TLS_DIR_ENV = 'DCNET_TLS_DIR';

export interface TlsCliOptions {
  tlsDir?: string;
  insecure?: boolean;
}

export function addTlsOptions(cmd: Command): Command {
  return cmd
    .option('--tls-dir <dir>', `ca.pem, cert.pem and key.pem from \`dcnet pki issue\` (env ${TLS_DIR_ENV})`)
    .option('--insecure', 'plain HTTP without certificates: anyone who reaches the port is trusted');
}

export type ControlPlaneTls =
  | { readonly secure: true; readonly files: TlsFiles; readonly identity: Identity; readonly dir: string }
  | { readonly secure: false };

const HOW =
  'make them with `dcnet pki init --dir CA` and `dcnet pki issue --ca-dir CA --role ROLE --ip IP --out DIR`';

/** The command's TLS settings; `roles`: the certificate roles this command may run as. */
export async function controlPlaneTls(
  command: string,
  opts: TlsCliOptions,
  roles: readonly Role[],
  log?: Logger,
): Promise<ControlPlaneTls> {
  if (opts.insecure && opts.tlsDir !== undefined)
    throw new UsageError(`${command}: --insecure and --tls-dir exclude each other`);
  const dir = opts.insecure ? undefined : (opts.tlsDir ?? process.env[TLS_DIR_ENV]);
  if (opts.insecure) {
    log?.warn(
      { command },
      '--insecure: control-plane traffic is plain HTTP without authentication; use --tls-dir in production',
    );
    return { secure: false };
  }
  if (dir === undefined || dir === '')
    throw new UsageError(
      `${command}: the control plane needs TLS: pass --tls-dir DIR (ca.pem, cert.pem, key.pem) or set ${TLS_DIR_ENV}; ${HOW}; or pass --insecure for plain HTTP`,
    );
  const { identityOf, loadTlsDir, PkiError } = await import('../pki/index.js');
  let files: TlsFiles;
  try {
    files = await loadTlsDir(dir);
  } catch (err) {
    if (err instanceof PkiError) throw new UsageError(`--tls-dir: ${err.message}; ${HOW}`);
    throw err;
  }
  const where = `--tls-dir ${dir}`;
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(files.cert);
    ca = new X509Certificate(files.ca);
  } catch (err) {
    throw new UsageError(`${where}: cert.pem or ca.pem is not a certificate: ${(err as Error).message}`);
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw new UsageError(`${where}: cert.pem was not issued by the CA in ca.pem`);
  const now = Date.now();
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now)
    throw new UsageError(`${where}: cert.pem is valid only from ${cert.validFrom} to ${cert.validTo}`);
  const identity = identityOf(cert);
  if (!identity)
    throw new UsageError(`${where}: cert.pem names no dcnet role (issue it with \`dcnet pki issue\`)`);
  if (!roles.includes(identity.role))
    throw new UsageError(
      `${where}: cert.pem is for ${identity.role}:${identity.name}; ${command} needs a ${roles.join(' or ')} certificate`,
    );
  return { secure: true, files, identity, dir };
}

/** Master URLs must match the mode: https with TLS, http with --insecure. */
export function checkScheme(option: string, urls: readonly string[], tls: ControlPlaneTls): void {
  const want = tls.secure ? 'https:' : 'http:';
  for (const u of urls) {
    if (new URL(u).protocol !== want)
      throw new UsageError(
        `${option}: "${u}" is not ${want}// (${tls.secure ? 'TLS is on: use https://' : '--insecure talks plain http://'})`,
      );
  }
}
