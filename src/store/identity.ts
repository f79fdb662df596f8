// Who a store is: a cluster ID (one per independent store, shared by everything that serves the
// same data) and a member ID (one per server). The embedded store creates both once, at random,
// and keeps them in its data directory, so that a client can tell two independent masters apart
// and refuse the second (an `--master m1,m2` pointing at two separate embedded stores).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { StoreError, type StoreIdentity } from './types.js';
import { writeFileDurably } from './wal.js';

const ID = /^[0-9a-f]{16}$/;
const idFile = z.object({ clusterId: z.string().regex(ID), memberId: z.string().regex(ID) }).strict();

export const IDENTITY_FILE = 'ID';

export function newIdentity(): StoreIdentity {
  return { clusterId: randomBytes(8).toString('hex'), memberId: randomBytes(8).toString('hex') };
}

/** The data directory's identity, created on first use and never changed afterwards. */
export async function loadOrCreateIdentity(
  dir: string,
): Promise<{ identity: StoreIdentity; created: boolean }> {
  const path = join(dir, IDENTITY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new StoreError('io', `cannot read ${path}: ${(err as Error).message}`);
  }
  if (text === undefined) {
    const identity = newIdentity();
    await writeFileDurably(path, `${JSON.stringify(identity)}\n`);
    return { identity, created: true };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const r = idFile.safeParse(parsed);
  if (!r.success)
    throw new StoreError(
      'corrupt',
      `${path}: not a store identity (want {"clusterId","memberId"}, 16 hex digits each); refusing to invent a new one for existing data`,
    );
  return { identity: r.data, created: false };
}
