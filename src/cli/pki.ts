// `dcnet pki`: the cluster CA and the certificates of masters, agents and operators.
//   dcnet pki init  --dir DIR                       → DIR/ca.pem, DIR/ca-key.pem
//   dcnet pki issue --ca-dir DIR --role R --ip IP --out OUT → OUT/ca.pem, cert.pem, key.pem
import type { Command } from 'commander';
import {
  createCa,
  identityOf,
  isRole,
  issueCertificate,
  loadCaDir,
  PkiError,
  tlsDirPaths,
  writeCaDir,
  writeTlsDir,
} from '../pki/index.js';
import { X509Certificate } from 'node:crypto';
import { UsageError } from './usage-error.js';

const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').filter(Boolean)];

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--days: "${v}" is not a whole number of days ≥ 1`);
  return n;
}

/** PkiErrors name the option; they are usage errors here (exit code 2). */
async function usage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PkiError) throw new UsageError(err.message);
    throw err;
  }
}

export function addPkiCommand(program: Command): void {
  const pki = program
    .command('pki')
    .description('make the cluster CA and the TLS certificates of masters, agents and operators');
  pki
    .command('init')
    .description('create the cluster CA (ca.pem, ca-key.pem); keep ca-key.pem off the nodes')
    .requiredOption('--dir <dir>', 'where the CA is written')
    .option('--days <n>', 'validity in days', '3650')
    .option('--force', 'replace an existing CA (every certificate it issued stops working)')
    .action(async (opts: { dir: string; days: string; force?: boolean }) => {
      await usage(async () => {
        const ca = await createCa({ days: days(opts.days)! });
        await writeCaDir(opts.dir, ca, { force: opts.force ?? false });
      });
      process.stdout.write(`CA written to ${opts.dir} (ca.pem; ca-key.pem is secret, mode 0600)\n`);
    });
  pki
    .command('issue')
    .description('issue a certificate: --role master|agent --ip IP for a node, --role operator --name N')
    .requiredOption('--ca-dir <dir>', 'the CA directory made by `dcnet pki init`')
    .requiredOption('--role <role>', 'agent, master or operator')
    .option('--ip <ip>', "the holder's address(es) (IP SANs; an agent registers only as these)", collect, [])
    .option('--dns <name>', 'DNS names (SANs), e.g. for masters reached by name', collect, [])
    .option('--name <name>', 'CN after "<role>:" (default: the first --ip; operators: required)')
    .option('--days <n>', 'validity in days', '825')
    .requiredOption('--out <dir>', 'where ca.pem, cert.pem and key.pem are written (a TLS directory)')
    .action(
      async (opts: {
        caDir: string;
        role: string;
        ip: string[];
        dns: string[];
        name?: string;
        days: string;
        out: string;
      }) => {
        if (!isRole(opts.role))
          throw new UsageError(`--role: "${opts.role}" is not agent, master or operator`);
        const role = opts.role;
        const cert = await usage(async () => {
          const ca = await loadCaDir(opts.caDir);
          const issued = await issueCertificate(ca, {
            role,
            ips: opts.ip,
            dnsNames: opts.dns,
            ...(opts.name !== undefined && { name: opts.name }),
            days: days(opts.days)!,
          });
          await writeTlsDir(opts.out, { ca: ca.certPem, cert: issued.certPem, key: issued.keyPem });
          return issued.certPem;
        });
        const id = identityOf(new X509Certificate(cert))!;
        const p = tlsDirPaths(opts.out);
        process.stdout.write(
          `issued ${id.role}:${id.name}${id.ips.length ? ` (IPs ${id.ips.join(', ')})` : ''} in ${opts.out}\n` +
            `use it with --tls-dir ${opts.out} (or DCNET_TLS_DIR), or: curl --cacert ${p.ca} --cert ${p.cert} --key ${p.key} …\n`,
        );
      },
    );
}
