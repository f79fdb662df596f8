// The CNI shapes Mesos reads (apache/mesos isolators/network/cni/spec.proto): a network config is
// `NetworkConfig` (`name`, `type` required; `ipam.type` required when `ipam` is given) and a
// plugin's result is `NetworkInfo` — only `ip4`, `ip6` and `dns`, the CNI 0.2.0 result shape; a
// 0.3.0+ result (`ips`) parses but carries no address. Parsed as stout parses JSON into protobuf:
// unknown fields ignored, a wrong JSON kind or a missing required field refused with its wording.

/** Mesos' CNI_VERSION: the version of the errors it (and its port-mapper) emit. */
export const MESOS_CNI_VERSION = '0.3.0';

export interface SpecRoute {
  readonly dst: string;
  readonly gw?: string;
}
export interface SpecDns {
  readonly nameservers: string[];
  readonly domain?: string;
  readonly search: string[];
  readonly options: string[];
}
export interface IpConfig {
  readonly ip: string;
  readonly gateway?: string;
  readonly routes: SpecRoute[];
}
export interface NetworkConfig {
  readonly name: string;
  readonly type: string;
  readonly ipam?: { readonly type: string; readonly routes: SpecRoute[] };
  readonly dns?: SpecDns;
}
export interface NetworkInfo {
  readonly ip4?: IpConfig;
  readonly ip6?: IpConfig;
  readonly dns?: SpecDns;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type Kind = 'string' | 'object' | 'array' | 'number' | 'boolean' | 'null';
const kindOf = (v: unknown): Kind =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'object'
        ? 'object'
        : (typeof v as 'string' | 'number' | 'boolean');

class ParseError extends Error {}

/** One message level: reads declared fields, ignores the rest, collects missing required ones
 *  with their dotted path (protobuf's InitializationErrorString). */
class Reader {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly path: string,
    private readonly missing: string[],
  ) {}

  private wrong(field: string, v: unknown): never {
    throw new ParseError(`Not expecting a JSON ${kindOf(v)} for field '${field}'`);
  }

  str(field: string, required: true): string;
  str(field: string, required?: false): string | undefined;
  str(field: string, required = false): string | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) {
      if (required) this.missing.push(this.path + field);
      return undefined;
    }
    if (typeof v !== 'string') this.wrong(field, v);
    return v;
  }

  strs(field: string): string[] {
    const v = this.obj[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.wrong(field, v);
    return v.map((s) => (typeof s === 'string' ? s : this.wrong(field, s)));
  }

  msg<T>(field: string, read: (r: Reader) => T): T | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (kindOf(v) !== 'object') this.wrong(field, v);
    return read(new Reader(v as Record<string, unknown>, `${this.path}${field}.`, this.missing));
  }

  msgs<T>(field: string, read: (r: Reader) => T): T[] {
    const v = this.obj[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.wrong(field, v);
    return v.map((item, i) =>
      kindOf(item) === 'object'
        ? read(new Reader(item as Record<string, unknown>, `${this.path}${field}[${i}].`, this.missing))
        : this.wrong(field, item),
    );
  }
}

const route = (r: Reader): SpecRoute => {
  const dst = r.str('dst', true);
  const gw = r.str('gw');
  return { dst, ...(gw !== undefined && { gw }) };
};
const dns = (r: Reader): SpecDns => {
  const domain = r.str('domain');
  return {
    nameservers: r.strs('nameservers'),
    ...(domain !== undefined && { domain }),
    search: r.strs('search'),
    options: r.strs('options'),
  };
};
const ipConfig = (r: Reader): IpConfig => {
  const ip = r.str('ip', true);
  const gateway = r.str('gateway');
  return { ip, ...(gateway !== undefined && { gateway }), routes: r.msgs('routes', route) };
};

function parseMessage<T>(text: string, read: (r: Reader) => T): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `JSON parse failed: ${(err as Error).message}` };
  }
  if (kindOf(json) !== 'object')
    return { ok: false, error: `JSON parse failed: Expecting a JSON object, got a JSON ${kindOf(json)}` };
  const missing: string[] = [];
  try {
    const value = read(new Reader(json as Record<string, unknown>, '', missing));
    if (missing.length > 0)
      return { ok: false, error: `Protobuf parse failed: Missing required fields: ${missing.join(', ')}` };
    return { ok: true, value };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, error: `Protobuf parse failed: ${err.message}` };
    throw err;
  }
}

export function parseNetworkConfig(text: string): Parsed<NetworkConfig> {
  return parseMessage(text, (r) => {
    const name = r.str('name', true);
    const type = r.str('type', true);
    const ipam = r.msg('ipam', (i) => ({ type: i.str('type', true), routes: i.msgs('routes', route) }));
    const d = r.msg('dns', dns);
    return { name, type, ...(ipam && { ipam }), ...(d && { dns: d }) };
  });
}

export function parseNetworkInfo(text: string): Parsed<NetworkInfo> {
  return parseMessage(text, (r) => {
    const ip4 = r.msg('ip4', ipConfig);
    const ip6 = r.msg('ip6', ipConfig);
    const d = r.msg('dns', dns);
    return { ...(ip4 && { ip4 }), ...(ip6 && { ip6 }), ...(d && { dns: d }) };
  });
}

/** A CNI error as Mesos writes one (spec::error). */
export function cniError(msg: string, code: number): string {
  return JSON.stringify({ cniVersion: MESOS_CNI_VERSION, code, msg });
}
