// One process per data directory: an exclusive lock on the LOCK file that the kernel holds for the
// open file and drops when the file is closed, whichever way the owner ends (exit, SIGKILL, power
// loss: a lock does not survive a reboot). No PID is trusted: a reused PID cannot keep a dead
// owner's lock alive. The PID written into the file is only for the error message.
// fs-native-extensions takes an open-file-description lock (fcntl F_OFD_SETLK on Linux), which also
// refuses a second store opened in the same process. See README.md "Decisions".
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { StoreError } from './types.js';

interface FsNativeExtensions {
  /** Takes the lock without waiting: false if another open file holds it. */
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
}
const fsx = createRequire(import.meta.url)('fs-native-extensions') as FsNativeExtensions;

export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'LOCK');
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true });
    // A number, not a FileHandle: a FileHandle is closed (and the lock lost) if it is ever
    // garbage-collected; this fd lives until release() or the process ends.
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  } catch (err) {
    throw new StoreError('io', `cannot lock ${dir}: ${(err as Error).message}`);
  }
  let locked: boolean;
  try {
    locked = fsx.tryLock(fd);
  } catch (err) {
    closeSync(fd);
    throw new StoreError('io', `cannot lock ${path}: ${(err as Error).message}`);
  }
  if (!locked) {
    closeSync(fd);
    const owner = readFileSync(path, 'utf8').trim();
    throw new StoreError(
      'io',
      `data directory ${dir} is in use by another process${/^\d+$/.test(owner) ? ` (pid ${owner})` : ''}; ${path} is locked`,
    );
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch {
    // Informational only: the lock is what counts, and a full disk must not stop the open.
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // Closing drops the lock. The file stays: unlinking a locked file lets two owners lock two
    // different inodes under one name.
    closeSync(fd);
  };
}
