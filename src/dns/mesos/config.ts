// The Mesos-DNS `config.json` (specs/mesos-dns.md §5): the upstream schema with its defaults and
// validation, keys matched case-insensitively as Go's JSON decoder does, so an existing file works
// unchanged. Differences from upstream, all deliberate:
// * `resolvers` omitted (or `[]`) → the node's resolv.conf nameservers minus the node's own
//   addresses; never a hard-coded public resolver (upstream defaults to a public resolver).
// * `refreshSeconds` ≤ 0, a non-IP `listener`/`httpListener`, negative TTLs/timeouts are rejected
//   here instead of crashing later.
// * A host name in `masters` is accepted (as upstream validation does) and resolved on every
//   refresh (service.ts); it never crashes the generator (upstream panicked).
// * `/v1/config` never shows `MesosCredentials.Secret` (upstream printed it in clear text).
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../config/index.js';
import { formatAddress, parseAddress } from '../../net/index.js';

export { ConfigError };

export const IP_SOURCES = ['host', 'docker', 'mesos', 'netinfo'] as const;

export interface MesosCredentials {
  readonly Principal: string;
  readonly Secret: string;
}

/** The effective configuration, Go field names, in the order `/v1/config` prints them (§5.1). */
export interface MesosDnsConfig {
  readonly RefreshSeconds: number;
  readonly Port: number;
  readonly Timeout: number;
  readonly StateTimeoutSeconds: number;
  readonly ZkDetectionTimeout: number;
  readonly HttpPort: number;
  readonly TTL: number;
  readonly SRVRecordDefaultWeight: number;
  readonly SOASerial: number;
  readonly SOARefresh: number;
  readonly SOARetry: number;
  readonly SOAExpire: number;
  readonly SOAMinttl: number;
  /** Normalised: lower case, exactly one trailing dot (`ns1.mesos.`). */
  readonly SOAMname: string;
  /** Normalised: `@` → `.`, exactly one trailing dot (`root.ns1.mesos.`). */
  readonly SOARname: string;
  /** `host:port` list; null when not configured (as upstream prints it). */
  readonly Masters: readonly string[] | null;
  readonly ZoneResolvers: Readonly<Record<string, readonly string[]>>;
  /** Effective default upstreams (`ip` or `ip:port`). */
  readonly Resolvers: readonly string[];
  readonly IPSources: readonly string[];
  readonly Zk: string;
  /** Lower case, no trailing dot. */
  readonly Domain: string;
  /** Absolute path of the loaded file. */
  readonly File: string;
  readonly Listener: string;
  readonly HTTPListener: string;
  readonly RecurseOn: boolean;
  readonly DnsOn: boolean;
  readonly HttpOn: boolean;
  readonly ExternalOn: boolean;
  readonly EnforceRFC952: boolean;
  readonly SetTruncateBit: boolean;
  readonly EnumerationOn: boolean;
  readonly MesosHTTPSOn: boolean;
  readonly CACertFile: string;
  readonly CertFile: string;
  readonly KeyFile: string;
  readonly MesosCredentials: MesosCredentials;
  readonly IAMConfigFile: string;
  readonly MesosAuthentication: '' | 'basic' | 'iam';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Upstream defaults (§5.1); `Resolvers` and `Masters` are filled in by `loadMesosDnsConfig`. */
export function mesosDnsDefaults(): Mutable<MesosDnsConfig> {
  return {
    RefreshSeconds: 60,
    Port: 53,
    Timeout: 5,
    StateTimeoutSeconds: 300,
    ZkDetectionTimeout: 30,
    HttpPort: 8123,
    TTL: 60,
    SRVRecordDefaultWeight: 1,
    SOASerial: 0,
    SOARefresh: 60,
    SOARetry: 600,
    SOAExpire: 86400,
    SOAMinttl: 60,
    SOAMname: 'ns1.mesos',
    SOARname: 'root.ns1.mesos',
    Masters: null,
    ZoneResolvers: {},
    Resolvers: [],
    IPSources: ['netinfo', 'mesos', 'host'],
    Zk: '',
    Domain: 'mesos',
    File: '',
    Listener: '0.0.0.0',
    HTTPListener: '0.0.0.0',
    RecurseOn: true,
    DnsOn: true,
    HttpOn: true,
    ExternalOn: true,
    EnforceRFC952: false,
    SetTruncateBit: true,
    EnumerationOn: true,
    MesosHTTPSOn: false,
    CACertFile: '',
    CertFile: '',
    KeyFile: '',
    MesosCredentials: { Principal: '', Secret: '' },
    IAMConfigFile: '',
    MesosAuthentication: '',
  };
}

export const CONFIG_KEYS = Object.keys(mesosDnsDefaults()) as (keyof MesosDnsConfig)[];

const u32 = z.number().int().min(0).max(0xffffffff);
const port = (min: number) =>
  z
    .number()
    .int()
    .min(min, { error: `must be a port number ${min}-65535` })
    .max(65535, { error: `must be a port number ${min}-65535` });
const str = z.string();
const strList = z.array(z.string());

/** Per-field types (Go's decoder rejects a value of the wrong JSON type, so do we). */
const fieldSchemas: { [K in keyof MesosDnsConfig]: z.ZodType } = {
  RefreshSeconds: z.number().int().min(1, { error: 'must be a positive number of seconds' }),
  Port: port(0),
  Timeout: z.number().int().min(0),
  StateTimeoutSeconds: z.number().int().min(1, { error: 'must be > 0' }),
  ZkDetectionTimeout: z.number().int().min(0),
  HttpPort: port(0),
  TTL: z.number().int().min(0).max(0x7fffffff),
  SRVRecordDefaultWeight: z.number().int().min(0).max(65535),
  SOASerial: u32,
  SOARefresh: u32,
  SOARetry: u32,
  SOAExpire: u32,
  SOAMinttl: u32,
  SOAMname: str,
  SOARname: str,
  Masters: strList,
  ZoneResolvers: z.record(z.string(), strList),
  Resolvers: strList,
  IPSources: strList,
  Zk: str,
  Domain: str,
  File: str,
  Listener: str,
  HTTPListener: str,
  RecurseOn: z.boolean(),
  DnsOn: z.boolean(),
  HttpOn: z.boolean(),
  ExternalOn: z.boolean(),
  EnforceRFC952: z.boolean(),
  SetTruncateBit: z.boolean(),
  EnumerationOn: z.boolean(),
  MesosHTTPSOn: z.boolean(),
  CACertFile: str,
  CertFile: str,
  KeyFile: str,
  MesosCredentials: z.object({ Principal: str, Secret: str }),
  IAMConfigFile: str,
  MesosAuthentication: z.enum(['', 'basic', 'iam'], {
    error: 'must be "", "basic" or "iam" (upstream: "unregistered factory")',
  }),
};

export interface LoadOptions {
  /** Where the default upstream resolvers come from (default /etc/resolv.conf). */
  readonly resolvConf?: string;
  /** The node's own addresses (default: every interface address). */
  readonly localAddresses?: () => readonly string[];
}

export interface LoadedConfig {
  readonly config: MesosDnsConfig;
  /** Keys of the file that no field matched (upstream ignores them silently; we log them). */
  readonly ignoredKeys: readonly string[];
  /** Non-fatal remarks to log (e.g. credentials set without an authentication mechanism). */
  readonly warnings: readonly string[];
}

/** Reads and validates a config.json; ConfigError lists every problem, naming the field. */
export async function loadMesosDnsConfig(path: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const file = resolvePath(expandHome(path));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the config file: ${(err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${path}: not valid JSON: ${(err as Error).message}`]);
  }
  let resolvConf = '';
  const needDefaults = (() => {
    const d = parseMesosDnsConfig(doc, { file, resolvConfNameservers: [] }, false);
    return d.config.ExternalOn && d.config.Resolvers.length === 0;
  })();
  if (needDefaults) {
    resolvConf = await readFile(opts.resolvConf ?? '/etc/resolv.conf', 'utf8').catch(() => '');
  }
  const nameservers = resolvConfNameservers(resolvConf, (opts.localAddresses ?? localAddresses)());
  return parseMesosDnsConfig(doc, { file, resolvConfNameservers: nameservers });
}

function expandHome(path: string): string {
  if (!path.startsWith('~/')) return path;
  const home = process.env.HOME ?? process.env.USERPROFILE ?? '';
  return `${home}/${path.slice(2)}`;
}

/** Every address of every local interface (loopback included: forwarding to ourselves loops). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => i.address);
}

/** `nameserver` lines of a resolv.conf, minus the given local addresses, canonical IP text. */
export function resolvConfNameservers(text: string, local: readonly string[]): string[] {
  const own = new Set(local.map((a) => canonicalIp(a) ?? a));
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = canonicalIp(m[1]!);
    if (ip === undefined || own.has(ip) || out.includes(ip)) continue;
    out.push(ip);
  }
  return out;
}

function canonicalIp(text: string): string | undefined {
  const a = parseAddress(text);
  return a && formatAddress(a.family, a.value);
}

export interface ParseContext {
  /** Absolute path, shown as `File`. */
  readonly file: string;
  /** Used for `Resolvers` when the file leaves them out or empty (and `externalOn`). */
  readonly resolvConfNameservers: readonly string[];
}

/**
 * Validates a parsed config document on top of the defaults. `strict` false only decodes (used to
 * find out whether resolv.conf must be read); it never throws for rule violations then.
 */
export function parseMesosDnsConfig(doc: unknown, ctx: ParseContext, strict = true): LoadedConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(['(top level): must be a JSON object']);
  }
  const canonical = new Map(CONFIG_KEYS.map((k) => [k.toLowerCase(), k] as const));
  const cfg = mesosDnsDefaults() as unknown as Record<string, unknown>;
  /** How the user spelled each field, for error messages. */
  const spelled = new Map<string, string>();
  const problems: string[] = [];
  const ignoredKeys: string[] = [];
  const warnings: string[] = [];
  /** The user's spelling, else the sample's (`refreshSeconds`, `IPSources`, `SOAMname`). */
  const where = (key: string): string =>
    spelled.get(key) ?? (/^[A-Z][A-Z]/.test(key) ? key : key[0]!.toLowerCase() + key.slice(1));

  for (const [rawKey, value] of Object.entries(doc)) {
    const key = canonical.get(rawKey.toLowerCase());
    if (key === undefined) {
      ignoredKeys.push(rawKey);
      continue;
    }
    spelled.set(key, rawKey);
    if (value === null) continue; // Go leaves the default in place for null
    let input: unknown = value;
    if (key === 'MesosCredentials') {
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push(`${rawKey}: must be an object {"principal": …, "secret": …}`);
        continue;
      }
      const creds: Record<string, unknown> = { Principal: '', Secret: '' };
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const ck =
          k.toLowerCase() === 'principal' ? 'Principal' : k.toLowerCase() === 'secret' ? 'Secret' : '';
        if (ck && v !== null) creds[ck] = v;
      }
      input = creds;
    }
    const r = fieldSchemas[key].safeParse(input);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const sub = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
        problems.push(`${rawKey}${sub}: ${issue.message}`);
      }
      continue;
    }
    cfg[key] = r.data;
  }
  const c = cfg as unknown as Mutable<MesosDnsConfig>;
  c.File = ctx.file;
  c.Domain = c.Domain.toLowerCase();
  c.SOAMname = `${c.SOAMname.replace(/\.+$/, '').toLowerCase()}.`;
  c.SOARname = `${c.SOARname.replace(/@/g, '.').replace(/\.+$/, '')}.`;
  if (c.Timeout === 0) c.Timeout = 5;
  if (c.ExternalOn && c.Resolvers.length === 0) c.Resolvers = [...ctx.resolvConfNameservers];
  if (!strict) return { config: c, ignoredKeys, warnings };
  // Fields with a type problem keep their defaults, so the rules below still check the rest.

  problems.push(...validate(c, where));
  if (c.MesosAuthentication === '') {
    if (c.MesosCredentials.Principal !== '' || c.MesosCredentials.Secret !== '')
      warnings.push(
        `${where('MesosCredentials')} is set but ${where('MesosAuthentication')} is "": not used`,
      );
    if (c.IAMConfigFile !== '')
      warnings.push(`${where('IAMConfigFile')} is set but ${where('MesosAuthentication')} is "": not used`);
  }
  if (c.ExternalOn && c.Resolvers.length === 0)
    warnings.push(
      'no upstream resolvers (none configured, none usable in resolv.conf): names outside the domain get REFUSED',
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: c, ignoredKeys, warnings };
}

const DOMAIN = /^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$/;

/** `host:port` (IPv6 as `[addr]:port`); port must be an integer. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(-?\d+)$/.exec(text) ?? /^([^:[\]]*):(-?\d+)$/.exec(text);
  if (!m) return undefined;
  return { host: m[1]!, port: Number(m[2]) };
}

/** A resolver `ip`, `ip:port` or `[v6]:port` → canonical `ip:port` text; undefined if invalid. */
export function parseResolver(text: string): { ip: string; port: number } | undefined {
  const bare = canonicalIp(text);
  if (bare !== undefined) return { ip: bare, port: 53 };
  const hp = splitHostPort(text);
  if (!hp) return undefined;
  const ip = canonicalIp(hp.host);
  if (ip === undefined || hp.port < 1 || hp.port > 65535) return undefined;
  return { ip, port: hp.port };
}

function validate(c: MesosDnsConfig, where: (k: string) => string): string[] {
  const problems: string[] = [];
  if (!c.DnsOn && !c.HttpOn) problems.push(`${where('DnsOn')}/${where('HttpOn')}: at least one must be true`);
  if (!DOMAIN.test(c.Domain))
    problems.push(
      `${where('Domain')}: "${c.Domain}" is not a domain name (letters, digits, '-', dot-separated)`,
    );
  problems.push(...validateMasters(c.Masters ?? [], where('Masters')));
  if ((c.Masters ?? []).length === 0) {
    problems.push(
      c.Zk !== ''
        ? `${where('Masters')}: required: dcnet has no ZooKeeper leader detection (${where('Zk')}); list the masters, the leader is followed from their state`
        : `${where('Masters')}: at least one master (or ${where('Zk')}) is required`,
    );
  }
  if (c.ExternalOn) {
    problems.push(...validateResolvers(c.Resolvers, where('Resolvers')));
    problems.push(...validateZones(c.ZoneResolvers, c.Domain, where('ZoneResolvers')));
  }
  const sources = new Set<string>();
  if (c.IPSources.length === 0) problems.push(`${where('IPSources')}: must not be empty`);
  c.IPSources.forEach((s, i) => {
    if (!(IP_SOURCES as readonly string[]).includes(s))
      problems.push(`${where('IPSources')}[${i}]: "${s}" is not one of ${IP_SOURCES.join(', ')}`);
    else if (sources.has(s)) problems.push(`${where('IPSources')}[${i}]: "${s}" is listed twice`);
    sources.add(s);
  });
  if (parseAddress(c.Listener) === undefined)
    problems.push(`${where('Listener')}: "${c.Listener}" is not an IP address`);
  if (parseAddress(c.HTTPListener) === undefined)
    problems.push(`${where('HTTPListener')}: "${c.HTTPListener}" is not an IP address`);
  if ((c.CertFile === '') !== (c.KeyFile === ''))
    problems.push(`${where('CertFile')}/${where('KeyFile')}: give both or neither`);
  if (
    c.MesosAuthentication === 'basic' &&
    c.MesosCredentials.Principal === '' &&
    c.MesosCredentials.Secret === ''
  )
    problems.push(`${where('MesosCredentials')}: "basic" authentication needs a principal or a secret`);
  if (c.MesosAuthentication === 'iam' && c.IAMConfigFile === '')
    problems.push(`${where('IAMConfigFile')}: "iam" authentication needs an IAM config file`);
  return problems;
}

/** §5.2 masters rules; host names are allowed (resolved on every refresh). */
export function validateMasters(masters: readonly string[], field = 'masters'): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  masters.forEach((m, i) => {
    const hp = splitHostPort(m);
    if (!hp || hp.host === '') {
      problems.push(`${field}[${i}]: "${m}" is not host:port`);
      return;
    }
    if (hp.port < 1 || hp.port > 65535) {
      problems.push(`${field}[${i}]: "${m}": port must be 1-65535`);
      return;
    }
    const key = `${canonicalIp(hp.host) ?? hp.host.toLowerCase()}:${hp.port}`;
    if (seen.has(key)) problems.push(`${field}[${i}]: "${m}" is listed twice`);
    seen.add(key);
  });
  return problems;
}

/** §5.2 resolver rules: IP or IP:port, no host names, no duplicates. */
export function validateResolvers(list: readonly string[], field = 'resolvers'): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  list.forEach((r, i) => {
    const p = parseResolver(r);
    if (!p) {
      problems.push(`${field}[${i}]: "${r}" is not an IP address or IP:port (port 1-65535)`);
      return;
    }
    const key = `${p.ip}#${p.port}`;
    if (seen.has(key)) problems.push(`${field}[${i}]: "${r}" is listed twice`);
    seen.add(key);
  });
  return problems;
}

/** §5.2 zone rules: valid names, non-empty valid resolver lists, no zone inside another or the domain. */
export function validateZones(
  zones: Readonly<Record<string, readonly string[]>>,
  domain: string,
  field = 'zoneResolvers',
): string[] {
  const problems: string[] = [];
  const names = Object.keys(zones);
  for (const zone of names) {
    const list = zones[zone]!;
    if (!DOMAIN.test(zone)) problems.push(`${field}."${zone}": not a domain name`);
    if (zone.toLowerCase() === domain) problems.push(`${field}."${zone}": equals the Mesos domain`);
    if (list.length === 0) problems.push(`${field}."${zone}": needs at least one resolver`);
    problems.push(...validateResolvers(list, `${field}."${zone}"`));
  }
  const all = [...names.map((n) => n.toLowerCase()), domain];
  for (let i = 0; i < all.length; i++) {
    for (let j = 0; j < all.length; j++) {
      if (i === j || all[i] === all[j]) continue;
      const [a, b] = [all[i]!, all[j]!];
      if (a.endsWith(`.${b}`) || (a.startsWith('.') && a.endsWith(b)))
        problems.push(
          `${field}: "${a}" lies inside ${j === all.length - 1 ? 'the Mesos domain' : 'zone'} "${b}"`,
        );
    }
  }
  return problems;
}

/** `/v1/config`: every field in §5.1 order, the live serial, and no secret. */
export function renderConfig(c: MesosDnsConfig, serial: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) out[k] = c[k];
  out.SOASerial = serial;
  out.MesosCredentials = {
    Principal: c.MesosCredentials.Principal,
    Secret: c.MesosCredentials.Secret === '' ? '' : '<redacted>',
  };
  return out;
}

/**
 * Upstream settings dcnet cannot honour yet; refusing them at start beats failing every poll.
 * (`basic` and `iam` authentication and `mesosHTTPSOn` work; custom TLS files do not yet.)
 */
export function unsupportedSettings(c: MesosDnsConfig): string[] {
  const out: string[] = [];
  for (const k of ['CACertFile', 'CertFile', 'KeyFile'] as const)
    if (c[k] !== '')
      out.push(`${k}: custom TLS files are not supported by dcnet mesos-dns yet (HTTPS uses the system CAs)`);
  return out;
}
