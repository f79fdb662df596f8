// Marathon-LB labels (specs/marathon-lb.md §1.4) are tenant input that ends up in HAProxy's
// config, so every label the controller reads has a grammar here and becomes a typed value before
// it does anything: host names are host names, paths are paths, ports are numbers, modes are
// enums, bind options come from a list of harmless keywords. A value with a control character or
// outside its grammar is a `LabelError` naming the label and the reason; the caller leaves that
// one app out. Per-port template labels (`HAPROXY_{n}_<TEMPLATE>`) are raw config text: they are
// refused unless the operator turned them on (as ingress-nginx does with snippets).
import { formatAddress, formatCidr, parseAddress, parseCidr } from '../net/index.js';
import { TEMPLATE_LABELS } from './templates.js';

export class LabelError extends Error {
  constructor(
    readonly label: string,
    readonly reason: string,
  ) {
    super(`label ${label}: ${reason}`);
    this.name = 'LabelError';
  }
}

/** Thrown by a grammar; the label's name is added by the caller. */
class Refused extends Error {}

type Grammar<T> = (v: string) => T;

const TRUE = new Set(['true', 't', 'yes', 'y']);
const FALSE = new Set(['false', 'f', 'no', 'n', '']);

/** Marathon-LB's truth set (§1.4); anything not plainly true or false is refused. */
const bool: Grammar<boolean> = (v) => {
  const l = v.toLowerCase();
  if (TRUE.has(l)) return true;
  if (FALSE.has(l)) return false;
  throw new Refused(`"${v}" is not a boolean (true/false, yes/no, t/f, y/n)`);
};

const int =
  (min: number, max: number, what = 'an integer'): Grammar<number> =>
  (v) => {
    const t = v.trim();
    const n = /^[-+]?\d{1,10}$/.test(t) ? Number.parseInt(t, 10) : NaN;
    if (!Number.isInteger(n)) throw new Refused(`"${v}" is not an integer`);
    if (n < min || n > max) throw new Refused(`${n} is not ${what} (${min}-${max})`);
    return n;
  };

const DNS_LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);

/** `a.test,www.a.test`: host names (lower-cased), comma-separated. */
const hostList: Grammar<string> = (v) => {
  const hosts = v.toLowerCase().split(',');
  for (const h of hosts) if (!HOST_NAME.test(h)) throw new Refused(`"${h}" is not a host name`);
  return hosts.join(',');
};

const GROUP = /^[A-Za-z0-9_.-]{1,63}$/;
/** `external,internal`; empty = no group. */
const groupList: Grammar<string[]> = (v) => {
  if (v === '') return [];
  const groups = v.split(',');
  for (const g of groups)
    if (!GROUP.test(g)) throw new Refused(`"${g}" is not a group name ([A-Za-z0-9_.-])`);
  return groups;
};

/** URL path characters that mean nothing to HAProxy's config parser (no quotes, backslash,
 *  `#`, braces or spaces). */
const PATTERN_PATH = /^\/[A-Za-z0-9._~!$&*+,;=:@%/-]{0,1023}$/;
/** Paths used in a regex or in a log-format string: no `%` either. */
const PLAIN_PATH = /^\/[A-Za-z0-9._~/-]{0,1023}$/;
const PATH_FLAGS = new Set(['-i']);
const MATCH_METHODS = new Set(['beg', 'dir', 'end', 'str', 'sub']);

/** `path_beg` arguments: paths, optionally with `-i` and `-m <beg|dir|end|str|sub>` (never `-f
 *  <file>` or a regex). */
const pathPatterns: Grammar<string> = (v) => {
  const words = v.split(' ').filter(Boolean);
  let paths = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (PATH_FLAGS.has(w)) continue;
    if (w === '-m') {
      if (!MATCH_METHODS.has(words[i + 1] ?? ''))
        throw new Refused(`-m must be followed by one of ${[...MATCH_METHODS].join(', ')}`);
      i++;
      continue;
    }
    if (w.startsWith('-')) throw new Refused(`flag "${w}" is not allowed (only -i and -m)`);
    if (!PATTERN_PATH.test(w)) throw new Refused(`"${w}" is not a URL path`);
    paths++;
  }
  if (paths === 0) throw new Refused('no path');
  return words.join(' ');
};

const plainPath: Grammar<string> = (v) => {
  if (!PLAIN_PATH.test(v)) throw new Refused(`"${v}" is not a URL path ([A-Za-z0-9._~/-], starting with /)`);
  return v;
};

const REDIRECT = /^(?:https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?)?\/[A-Za-z0-9._~/?=&+,;:@!*-]{0,1023}$/;
/** A redirect target: a path or an http(s) URL (no `%`: the location is a log-format string). */
const redirectTarget: Grammar<string> = (v) => {
  if (!REDIRECT.test(v)) throw new Refused(`"${v}" is not a URL path or http(s) URL`);
  return v;
};

/** `*` or an IP address (written back canonically). */
const bindAddr: Grammar<string> = (v) => {
  if (v === '*') return v;
  const a = parseAddress(v);
  if (!a) throw new Refused(`"${v}" is not an IP address or *`);
  return formatAddress(a.family, a.value);
};

const CERT_PATH = /^(?:\/[A-Za-z0-9._-]+)+$/;
/** An absolute file path without `.`/`..` components. */
const certPath: Grammar<string> = (v) => {
  if (!CERT_PATH.test(v) || v.split('/').some((c) => c === '.' || c === '..'))
    throw new Refused(`"${v}" is not an absolute file path ([A-Za-z0-9._-] components)`);
  return v;
};

const enumOf =
  (values: readonly string[]): Grammar<string> =>
  (v) => {
    const l = v.toLowerCase();
    if (!values.includes(l)) throw new Refused(`"${v}" is not one of ${values.join(', ')}`);
    return l;
  };

const BALANCE = [
  /^(?:roundrobin|static-rr|leastconn|first|source|random|uri|rdp-cookie)$/,
  /^random\(\d{1,3}\)$/,
  /^(?:hdr|rdp-cookie)\([A-Za-z0-9_-]{1,64}\)$/,
  /^url_param [A-Za-z0-9_-]{1,64}$/,
];
const balance: Grammar<string> = (v) => {
  if (!BALANCE.some((re) => re.test(v)))
    throw new Refused(
      `"${v}" is not a balance algorithm (roundrobin, static-rr, leastconn, first, source, random[(n)], uri, url_param <name>, hdr(<name>), rdp-cookie[(<name>)])`,
    );
  return v;
};

export interface Auth {
  readonly realm: string;
  readonly user: string;
  /** The userlist `password` value (a crypt(3) hash). */
  readonly passwd: string;
}

const REALM = /^[A-Za-z0-9 ._@-]{1,64}$/;
const USER = /^[A-Za-z0-9._@-]{1,64}$/;
const CRYPT = /^[A-Za-z0-9./$=+-]{1,512}$/;
/** `realm:user:password-hash`. */
const auth: Grammar<Auth> = (v) => {
  const parts = v.split(':');
  if (parts.length !== 3) throw new Refused(`must be realm:user:password (got ${parts.length} parts)`);
  const [realm, user, passwd] = parts as [string, string, string];
  if (!REALM.test(realm)) throw new Refused('the realm may only have letters, digits, spaces and ._@-');
  if (!USER.test(user)) throw new Refused('the user may only have letters, digits and ._@-');
  if (!CRYPT.test(passwd)) throw new Refused('the password must be a crypt(3) hash ([A-Za-z0-9./$=+-])');
  return { realm, user, passwd };
};

/** `10.0.0.0/8 192.0.2.7`: addresses and CIDRs, space-separated (written back canonically). */
const cidrList: Grammar<string> = (v) => {
  const out: string[] = [];
  for (const w of v.split(' ').filter(Boolean)) {
    const c = parseCidr(w);
    const a = c ? undefined : parseAddress(w);
    if (!c && !a) throw new Refused(`"${w}" is not an IP address or CIDR`);
    out.push(c ? formatCidr(c) : formatAddress(a!.family, a!.value));
  }
  if (out.length === 0) throw new Refused('no address');
  return out.join(' ');
};

const CIPHERS = /^[A-Za-z0-9:+!@=_.-]{1,1024}$/;
const PROTO_LIST = /^[A-Za-z0-9.,/_-]{1,256}$/;
const TLS_VERSION = /^(?:SSLv3|TLSv1\.[0-3])$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NUMBER = /^\d{1,7}$/;
const DURATION = /^\d{1,7}(?:us|ms|s|m|h|d)?$/;

/** Bind options a label may set: keyword → the grammar of its argument (null: none). Options
 *  that name files (crt, ca-file, crl-file, crt-list, …) are the operator's, never a label's. */
export const BIND_OPTIONS: ReadonlyMap<string, RegExp | null> = new Map<string, RegExp | null>([
  ['accept-proxy', null],
  ['allow-0rtt', null],
  ['defer-accept', null],
  ['force-tlsv10', null],
  ['force-tlsv11', null],
  ['force-tlsv12', null],
  ['force-tlsv13', null],
  ['no-ca-names', null],
  ['no-sslv3', null],
  ['no-tlsv10', null],
  ['no-tlsv11', null],
  ['no-tlsv12', null],
  ['no-tlsv13', null],
  ['no-tls-tickets', null],
  ['prefer-client-ciphers', null],
  ['strict-sni', null],
  ['tfo', null],
  ['v4v6', null],
  ['v6only', null],
  ['alpn', PROTO_LIST],
  ['npn', PROTO_LIST],
  ['ciphers', CIPHERS],
  ['ciphersuites', CIPHERS],
  ['curves', CIPHERS],
  ['ecdhe', NAME],
  ['ssl-min-ver', TLS_VERSION],
  ['ssl-max-ver', TLS_VERSION],
  ['verify', /^(?:none|optional|required)$/],
  ['maxconn', NUMBER],
  ['backlog', NUMBER],
  ['mss', NUMBER],
  ['nice', /^-?\d{1,4}$/],
  ['tcp-ut', DURATION],
  ['name', NAME],
]);

const bindOptions: Grammar<string> = (v) => {
  const words = v.split(' ').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const arg = BIND_OPTIONS.get(w);
    if (arg === undefined) throw new Refused(`bind option "${w}" is not allowed in a label`);
    if (arg === null) {
      out.push(w);
      continue;
    }
    const value = words[++i];
    if (value === undefined || !arg.test(value))
      throw new Refused(`bind option "${w}" needs an argument matching ${arg.source}`);
    out.push(w, value);
  }
  return out.join(' ');
};

/** `HAPROXY_{n}_<NAME>`: every per-port value label the controller reads. */
export const PORT_LABELS = {
  GROUP: groupList,
  ENABLED: bool,
  VHOST: hostList,
  BACKEND_WEIGHT: int(-1_000_000, 1_000_000),
  PATH: pathPatterns,
  PORT: int(1, 65535, 'a port'),
  BIND_ADDR: bindAddr,
  BIND_OPTIONS: bindOptions,
  SSL_CERT: certPath,
  MODE: enumOf(['http', 'tcp']),
  BALANCE: balance,
  STICKY: bool,
  REDIRECT_TO_HTTPS: bool,
  USE_HSTS: bool,
  AUTH: auth,
  HTTP_BACKEND_PROXYPASS_PATH: plainPath,
  HTTP_BACKEND_REVPROXY_PATH: plainPath,
  HTTP_BACKEND_REDIR: redirectTarget,
  BACKEND_NETWORK_ALLOWED_ACL: cidrList,
  BACKEND_HEALTHCHECK_PORT_INDEX: int(-1000, 1000),
  /** dcnet extension: the weight of each server of this port (canary shares); read per task. */
  SERVER_WEIGHT: int(0, 256, 'a server weight'),
} satisfies Record<string, Grammar<unknown>>;

export type PortLabelName = keyof typeof PORT_LABELS;
export type PortLabels = { -readonly [K in PortLabelName]?: ReturnType<(typeof PORT_LABELS)[K]> };

const DEPLOYMENT_GROUP =
  /^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?(?:\/[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?)*$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?$/;

/** App-wide labels the controller reads (the zdd ones decide ids, order and traffic shares). */
export const APP_LABELS = {
  HAPROXY_GROUP: groupList,
  HAPROXY_DEPLOYMENT_GROUP: (v: string): string => {
    if (!DEPLOYMENT_GROUP.test(v)) throw new Refused(`"${v}" is not a Marathon app id (lower-case a-z0-9.-)`);
    return v;
  },
  HAPROXY_DEPLOYMENT_STARTED_AT: (v: string): string => {
    if (!ISO_TIME.test(v)) throw new Refused(`"${v}" is not an ISO 8601 date-time`);
    return v;
  },
  HAPROXY_DEPLOYMENT_TARGET_INSTANCES: int(0, 1_000_000),
  HAPROXY_DEPLOYMENT_NEW_INSTANCES: int(0, 1_000_000),
} satisfies Record<string, Grammar<unknown>>;

export type AppLabelName = keyof typeof APP_LABELS;
export type AppLabels = { -readonly [K in AppLabelName]?: ReturnType<(typeof APP_LABELS)[K]> };

/** The first control character (C0, DEL, C1) of `v` that is not in `allowed`, as `U+000A`. */
function controlIn(v: string, allowed = ''): string | undefined {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 || (c >= 0x7f && c <= 0x9f)) && !allowed.includes(v[i]!))
      return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}
/** Template text may span lines; nothing else invisible. */
const TEMPLATE_WHITESPACE = '\n\r\t';
const MAX_VALUE = 4096;

function value<T>(key: string, v: string, grammar: Grammar<T>): T {
  const bad = controlIn(v);
  if (bad) throw new LabelError(key, `contains the control character ${bad}`);
  if (v.length > MAX_VALUE) throw new LabelError(key, `is longer than ${MAX_VALUE} characters`);
  try {
    return grammar(v);
  } catch (err) {
    if (err instanceof Refused) throw new LabelError(key, err.message);
    throw err;
  }
}

/** Reads one per-port label (`HAPROXY_{n}_<name>`); undefined when it is not set. */
export function portLabel<K extends PortLabelName>(
  labels: Readonly<Record<string, string>>,
  n: number,
  name: K,
): PortLabels[K] | undefined {
  const key = `HAPROXY_${n}_${name}`;
  const v = labels[key];
  return v === undefined
    ? undefined
    : (value(key, v, PORT_LABELS[name] as Grammar<unknown>) as PortLabels[K]);
}

export interface LabelOptions {
  /** `HAPROXY_{n}_<TEMPLATE>` labels are used (operator's `--allow-template-labels`). */
  readonly templateLabels?: boolean;
}

/** Every `HAPROXY_{n}_*` label of port n, typed; throws a `LabelError` for the first bad one.
 *  Labels the controller does not read are ignored, as Marathon-LB does. */
export function parsePortLabels(
  labels: Readonly<Record<string, string>>,
  n: number,
  o: LabelOptions = {},
): PortLabels {
  const prefix = `HAPROXY_${n}_`;
  const out: Record<string, unknown> = {};
  for (const key in labels) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    const v = labels[key]!;
    if (Object.hasOwn(PORT_LABELS, name))
      out[name] = value(key, v, PORT_LABELS[name as PortLabelName] as Grammar<unknown>);
    else if (TEMPLATE_LABELS.has(name)) {
      if (!o.templateLabels)
        throw new LabelError(
          key,
          'template labels are turned off (the operator can allow them with dcnet lb --allow-template-labels)',
        );
      const bad = controlIn(v, TEMPLATE_WHITESPACE);
      if (bad) throw new LabelError(key, `contains the control character ${bad}`);
    }
  }
  return out as PortLabels;
}

/** The app-wide labels, typed; throws a `LabelError` for the first bad one. */
export function parseAppLabels(labels: Readonly<Record<string, string>> | undefined): AppLabels {
  const out: Record<string, unknown> = {};
  if (!labels) return out;
  for (const name of Object.keys(APP_LABELS) as AppLabelName[]) {
    const v = labels[name];
    if (v !== undefined) out[name] = value(name, v, APP_LABELS[name] as Grammar<unknown>);
  }
  return out as AppLabels;
}
