// The cluster CA and the certificates it issues: ECDSA P-256, made in this process (Web Crypto
// through @peculiar/x509; no openssl subprocess). A node certificate names its role in the
// subject (O=dcnet:<role>, CN=<role>:<ip|name>) and carries its addresses as IP SANs, which is
// what the servers authorise by and what clients check the master against.
import { webcrypto, randomBytes } from 'node:crypto';
import { formatAddress, parseAddress } from '../net/index.js';
import { isRole, ROLE_ORG_PREFIX, type CaMaterial, type IssuedCertificate, type Role } from './types.js';

export class PkiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PkiError';
  }
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Names go into subjects and SANs unescaped: keep them to a DNS-like grammar. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const DAY_MS = 86_400_000;

// The X.509 library needs a Reflect polyfill and is only needed to issue: load it on first use so
// that daemons, which only verify, never pay for it.
type X509 = typeof import('@peculiar/x509');
let lib: Promise<X509> | undefined;
function x509(): Promise<X509> {
  lib ??= (async () => {
    await import('reflect-metadata');
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Parameters<X509['cryptoProvider']['set']>[0]);
    return m;
  })();
  return lib;
}

function validity(days: number | undefined, fallback: number): { notBefore: Date; notAfter: Date } {
  const d = days ?? fallback;
  if (!Number.isInteger(d) || d < 1 || d > 36_500)
    throw new PkiError(`days: ${d} is not a whole number in 1..36500`);
  // A minute of slack for clocks that are a little behind the issuer's.
  const now = Date.now() - 60_000;
  return { notBefore: new Date(now), notAfter: new Date(now + d * DAY_MS) };
}

const serial = (): string => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
};

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function pkcs8Pem(m: X509, key: webcrypto.CryptoKey): Promise<string> {
  return `${m.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY')}\n`;
}

export interface CaOptions {
  /** CN of the CA (default "dcnet cluster CA"). */
  readonly name?: string;
  /** Validity in days (default 3650). */
  readonly days?: number;
}

/** A new self-signed cluster CA (may sign end-entity certificates only: pathLen 0). */
export async function createCa(opts: CaOptions = {}): Promise<CaMaterial> {
  const m = await x509();
  const name = opts.name ?? 'dcnet cluster CA';
  if (!/^[A-Za-z0-9 ._-]{1,64}$/.test(name))
    throw new PkiError(`name: "${name}" has characters a CN cannot take here`);
  const keys = await keyPair();
  const cert = await m.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}, O=dcnet`,
    ...validity(opts.days, 3650),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new m.BasicConstraintsExtension(true, 0, true),
      new m.KeyUsagesExtension(m.KeyUsageFlags.keyCertSign | m.KeyUsageFlags.cRLSign, true),
      await m.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await pkcs8Pem(m, keys.privateKey) };
}

export interface IssueOptions {
  readonly role: Role;
  /** The holder's addresses (IP SANs). An agent needs exactly the IP it registers as. */
  readonly ips?: readonly string[];
  readonly dnsNames?: readonly string[];
  /** CN after "<role>:" (default: the first IP, else required). */
  readonly name?: string;
  /** Validity in days (default 825). */
  readonly days?: number;
}

/** Checks what a certificate will say; every error names the option. */
function checkIssue(o: IssueOptions): { ips: string[]; dnsNames: string[]; name: string } {
  if (!isRole(o.role)) throw new PkiError(`role: "${String(o.role)}" is not agent, master or operator`);
  const ips = (o.ips ?? []).map((ip) => {
    const a = parseAddress(ip);
    if (!a) throw new PkiError(`ip: "${ip}" is not an IP address`);
    return formatAddress(a.family, a.value);
  });
  for (const d of o.dnsNames ?? [])
    if (!NAME.test(d)) throw new PkiError(`dns name: "${d}" is not a host name (letters, digits, . _ -)`);
  if (o.role === 'agent' && ips.length === 0)
    throw new PkiError('ip: an agent certificate needs the IP the agent registers as');
  if (o.role === 'master' && ips.length === 0 && (o.dnsNames ?? []).length === 0)
    throw new PkiError('ip: a master certificate needs the address agents reach it at');
  const name = o.name ?? ips[0];
  if (name === undefined) throw new PkiError('name: an operator certificate needs a name (e.g. alice)');
  if (o.name !== undefined && !NAME.test(o.name))
    throw new PkiError(`name: "${o.name}" is not a name (letters, digits, . _ -, at most 63)`);
  return { ips, dnsNames: [...(o.dnsNames ?? [])], name };
}

/** A certificate signed by the cluster CA for one holder. */
export async function issueCertificate(ca: CaMaterial, opts: IssueOptions): Promise<IssuedCertificate> {
  const { ips, dnsNames, name } = checkIssue(opts);
  const m = await x509();
  let caCert: InstanceType<X509['X509Certificate']>;
  let caKey: webcrypto.CryptoKey;
  try {
    caCert = new m.X509Certificate(ca.certPem);
    caKey = await webcrypto.subtle.importKey('pkcs8', m.PemConverter.decodeFirst(ca.keyPem), ALG, false, [
      'sign',
    ]);
  } catch (err) {
    throw new PkiError(`CA: not a dcnet CA certificate and P-256 key: ${(err as Error).message}`);
  }
  const keys = await keyPair();
  const eku =
    opts.role === 'operator'
      ? [m.ExtendedKeyUsage.clientAuth]
      : [m.ExtendedKeyUsage.serverAuth, m.ExtendedKeyUsage.clientAuth];
  const san = [
    ...ips.map((value) => ({ type: 'ip' as const, value })),
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
  ];
  const cert = await m.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.role}:${name}, O=${ROLE_ORG_PREFIX}${opts.role}`,
    issuer: caCert.subject,
    ...validity(opts.days, 825),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new m.BasicConstraintsExtension(false, undefined, true),
      new m.KeyUsagesExtension(m.KeyUsageFlags.digitalSignature, true),
      new m.ExtendedKeyUsageExtension(eku),
      ...(san.length > 0 ? [new m.SubjectAlternativeNameExtension(san)] : []),
      await m.AuthorityKeyIdentifierExtension.create(caCert),
      await m.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await pkcs8Pem(m, keys.privateKey) };
}
