// One process per data directory: a LOCK file holding the owner's PID. A lock left by a dead
// process (SIGKILL, power loss) is taken over; a live owner makes the second process fail clearly.
import { open, readFile, unlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from './types.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreError('io', `cannot lock ${dir}: ${(err as Error).message}`);
      }
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new StoreError('io', `data directory ${dir} is in use by process ${owner}`);
    }
    await unlink(path).catch(() => {});
  }
  throw new StoreError('io', `cannot lock ${dir}: lock file keeps reappearing`);
}
