// How a zone travels through the store (`dns/zones/<origin>`, specs/dcos-net.md §1.11): the whole
// record map as one JSON value, validated on the way in so a bad value never replaces a good zone.
import { z } from 'zod';
import { parseAddress } from '../../net/index.js';
import { emptyZone, type ZoneRecords } from './zones.js';

export const ZONES_PREFIX = 'dns/zones/';
export const zoneKey = (origin: string): string => `${ZONES_PREFIX}${origin}`;

const fqdn = z
  .string()
  .max(255)
  .regex(/^([a-z0-9_*]([a-z0-9_-]{0,62})?\.)+$/, 'a lower-case FQDN with a trailing dot');
const ip = z.string().refine((s) => parseAddress(s) !== undefined, 'an IP address');
const srvValue = z.string().regex(/^([a-z0-9_-]{1,63}\.)+:\d{1,5}$/, 'target.:port');

const storedZone = z.object({
  origin: z.string(),
  at: z.number(),
  a: z.record(fqdn, z.array(ip)).default({}),
  aaaa: z.record(fqdn, z.array(ip)).default({}),
  srv: z.record(fqdn, z.array(srvValue)).default({}),
  cname: z.record(fqdn, fqdn).default({}),
});

export interface StoredZone {
  readonly origin: string;
  /** Publication time (ms), for logs and staleness reports. */
  readonly at: number;
  readonly records: ZoneRecords;
}

const sortedObject = (m: ReadonlyMap<string, ReadonlySet<string>>): Record<string, string[]> =>
  Object.fromEntries([...m.keys()].sort().map((k) => [k, [...m.get(k)!].sort()]));

/** The records part only: equal zones serialise equally (used to skip identical pushes). */
export function zoneFingerprint(zone: ZoneRecords): string {
  return JSON.stringify({
    a: sortedObject(zone.a),
    aaaa: sortedObject(zone.aaaa),
    srv: sortedObject(zone.srv),
    cname: Object.fromEntries([...zone.cname].sort(([x], [y]) => (x < y ? -1 : 1))),
  });
}

export function serializeZone(origin: string, zone: ZoneRecords, at: number): string {
  return JSON.stringify({ origin, at, ...(JSON.parse(zoneFingerprint(zone)) as object) });
}

/** Parses a stored zone; the error names the offending field. */
export function parseStoredZone(text: string): StoredZone {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('zone value is not JSON');
  }
  const r = storedZone.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`zone value: ${i.path.join('.')}: ${i.message}`);
  }
  const zone = emptyZone();
  for (const [k, v] of Object.entries(r.data.a)) zone.a.set(k, new Set(v));
  for (const [k, v] of Object.entries(r.data.aaaa)) zone.aaaa.set(k, new Set(v));
  for (const [k, v] of Object.entries(r.data.srv)) zone.srv.set(k, new Set(v));
  for (const [k, v] of Object.entries(r.data.cname)) zone.cname.set(k, v);
  return { origin: r.data.origin, at: r.data.at, records: zone };
}
