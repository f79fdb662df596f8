// The task-ID hash and agent tail of Mesos-DNS canonical names (specs/mesos-dns.md §1.4):
// the first 5 characters of z-base-32(SHA-1(task id)), and the last field of the agent id.
import * as crypto from 'node:crypto';

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** z-base-32 of the leading bits of `bytes`, most significant first, `chars` characters. */
export function zbase32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  let i = 0;
  while (out.length < chars) {
    if (bits < 5) {
      acc = (acc << 8) | (bytes[i++] ?? 0);
      bits += 8;
    }
    out += ZBASE32[(acc >> (bits - 5)) & 31];
    bits -= 5;
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** One-shot SHA-1: `crypto.hash` (Node ≥ 20.12, about twice as fast per call), else a Hash object. */
const sha1: (text: string) => Uint8Array =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha1', text, 'buffer')
    : (text) => crypto.createHash('sha1').update(text, 'utf8').digest();

export function taskHash(taskId: string): string {
  return zbase32(sha1(taskId), 5);
}

/** `…-S3` → `s3`; old-style `…-2410-0` → `0`. */
export function agentTail(slaveId: string): string {
  return slaveId.slice(slaveId.lastIndexOf('-') + 1).toLowerCase();
}
