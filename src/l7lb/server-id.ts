// Marathon-LB's stable HAProxy server ids (`calculate_server_id`, specs/marathon-lb.md §1.6.7):
// sha256 of the server name as a big integer, mod 32767; 0 or an id already used in the backend
// retries with "<name> <sha256 hex>". Stable ids let saved server state survive reloads.
import { createHash } from 'node:crypto';

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** A hex string (any length) mod m, without BigInt allocation per digit. */
function hexMod(hex: string, m: number): number {
  let r = 0;
  for (let i = 0; i < hex.length; i += 6) {
    const chunk = hex.slice(i, i + 6);
    r = (r * 16 ** chunk.length + parseInt(chunk, 16)) % m;
  }
  return r;
}

export function serverId(name: string | undefined | null, taken: Set<number>): number {
  if (name === undefined || name === null || name === '') throw new Error('server name must not be empty');
  let n = name;
  for (;;) {
    const hex = sha256(n);
    const id = hexMod(hex, 32767);
    if (id !== 0 && !taken.has(id)) {
      taken.add(id);
      return id;
    }
    n = `${n} ${hex}`;
  }
}

/** First 10 hex digits of sha1(serverName): the sticky cookie value. */
export const cookieOf = (serverName: string): string =>
  createHash('sha1').update(serverName, 'utf8').digest('hex').slice(0, 10);
