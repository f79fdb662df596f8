// Marathon-LB's stable HAProxy server ids (`calculate_server_id`, specs/marathon-lb.md §1.6.7):
// sha256 of the server name as a big integer, mod 32767; 0 or an id already used in the backend
// retries with "<name> <sha256 hex>". Stable ids let saved server state survive reloads.
import { createHash } from 'node:crypto';

/** sha256(name) as a big-endian integer, mod m (byte by byte: no BigInt, no hex string). */
function sha256Mod(name: string, m: number): { id: number; digest: Buffer } {
  const digest = createHash('sha256').update(name, 'utf8').digest();
  let r = 0;
  for (const byte of digest) r = (r * 256 + byte) % m;
  return { id: r, digest };
}

/** First-try ids by name: every resync renders the same servers again (bounded; cleared when full). */
const firstTry = new Map<string, { id: number; digest: Buffer }>();

function cachedSha256Mod(name: string): { id: number; digest: Buffer } {
  let hit = firstTry.get(name);
  if (!hit) {
    if (firstTry.size >= 100_000) firstTry.clear();
    hit = sha256Mod(name, 32767);
    firstTry.set(name, hit);
  }
  return hit;
}

export function serverId(name: string | undefined | null, taken: Set<number>): number {
  if (name === undefined || name === null || name === '') throw new Error('server name must not be empty');
  let n = name;
  for (let attempt = 0; ; attempt++) {
    const { id, digest } = attempt === 0 ? cachedSha256Mod(n) : sha256Mod(n, 32767);
    if (id !== 0 && !taken.has(id)) {
      taken.add(id);
      return id;
    }
    n = `${n} ${digest.toString('hex')}`;
  }
}

/** First 10 hex digits of sha1(serverName): the sticky cookie value. */
export const cookieOf = (serverName: string): string =>
  createHash('sha1').update(serverName, 'utf8').digest('hex').slice(0, 10);
