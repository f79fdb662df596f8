// resolv.conf as dcos-dns manages it (pure): parse a node's file, render the local one (the
// node-local DNS addresses) and the fallback one (the upstream resolvers), keeping the original's
// search/domain/options/sortlist lines. A render never yields a file without a nameserver: a
// resolver with none falls back to 127.0.0.1, which on a DC/OS node answers nothing.
import { formatAddress, parseAddress } from '../../net/index.js';
import { SPARTAN_IP } from './zones.js';

/** The node-local DNS addresses every DC/OS node serves (dcos-net listens on all three). */
export const NODE_DNS_IPS = [SPARTAN_IP, '198.51.100.2', '198.51.100.3'] as const;

/** First line of a file dcnet wrote: tells a restarted agent not to save it as "the original". */
export const RESOLV_CONF_MARK = '# Written by dcnet agent (dcos-dns):';

/** glibc reads at most this many nameserver lines (MAXNS). */
export const MAX_NAMESERVERS = 3;

export type ResolvConfMode = 'local' | 'upstream';

export interface ParsedResolvConf {
  /** Valid nameserver addresses, in order, without duplicates. */
  readonly nameservers: readonly string[];
  /** search/domain/options/sortlist lines, verbatim (trimmed). */
  readonly kept: readonly string[];
  /** Whether dcnet wrote this file. */
  readonly generated: boolean;
}

const KEPT = /^(search|domain|options|sortlist)\s+\S/;
// A kept line is copied into a file every process on the node reads: printable text only.
const PRINTABLE = /^[\x20-\x7e\t]*$/;

export function parseResolvConf(text: string): ParsedResolvConf {
  const nameservers: string[] = [];
  const kept: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const ns = /^nameserver\s+(\S+)/.exec(line);
    if (ns) {
      const a = parseAddress(ns[1]!.split('%')[0]!);
      const ip = a && formatAddress(a.family, a.value);
      if (ip && !nameservers.includes(ip)) nameservers.push(ip);
    } else if (KEPT.test(line) && PRINTABLE.test(line)) kept.push(line);
  }
  return { nameservers, kept, generated: text.startsWith(RESOLV_CONF_MARK) };
}

export interface RenderResolvConf {
  readonly mode: ResolvConfMode;
  readonly nameservers: readonly string[];
  readonly kept: readonly string[];
  /** Where the original file was saved (named in the header). */
  readonly original: string;
}

/** The file's text; throws when there is no nameserver to write (the caller keeps the old file). */
export function renderResolvConf(r: RenderResolvConf): string {
  const servers = r.nameservers.slice(0, MAX_NAMESERVERS);
  if (servers.length === 0) throw new Error(`resolv.conf (${r.mode}): no nameserver to write`);
  const why =
    r.mode === 'local'
      ? 'the node-local DNS'
      : 'the upstream resolvers: the node-local DNS did not answer ready.spartan';
  return [
    `${RESOLV_CONF_MARK} ${why}.`,
    `# The file as it was before dcnet: ${r.original}`,
    ...r.kept,
    ...servers.map((s) => `nameserver ${s}`),
    '',
  ].join('\n');
}

/**
 * The upstreams the fallback file lists: the given ones, else the original's nameservers, minus
 * the node-local DNS addresses and the node's own (they would be the DNS that just failed).
 */
export function fallbackNameservers(
  given: readonly string[] | undefined,
  original: readonly string[],
  own: ReadonlySet<string>,
): string[] {
  return (given ?? original).filter(
    (ip) => !own.has(ip) && !(NODE_DNS_IPS as readonly string[]).includes(ip),
  );
}
