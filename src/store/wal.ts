// The append-only log with group commit: concurrent appends are written with one write and made
// durable with one fdatasync, then acknowledged in order. Lines are `<crc32 hex> <json>\n` so that a
// torn tail after a crash is recognised and cut, while damage in the middle is refused loudly.
import { open, readFile, rename, mkdir, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join, dirname } from 'node:path';
import { StoreError } from './types.js';

export function frame(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

export interface ReadLog {
  readonly lines: string[];
  /** Bytes of valid log; anything after it is a torn tail to cut. */
  readonly validBytes: number;
  readonly tornBytes: number;
}

/** Reads a framed log; a bad line followed only by bad or partial lines is a torn tail. */
export async function readLog(path: string): Promise<ReadLog> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], validBytes: 0, tornBytes: 0 };
    throw new StoreError('io', `cannot read ${path}: ${(err as Error).message}`);
  }
  const lines: string[] = [];
  let offset = 0;
  let firstBad: number | undefined;
  while (offset < buf.length) {
    const nl = buf.indexOf(0x0a, offset);
    const end = nl < 0 ? buf.length : nl;
    const line = buf.toString('utf8', offset, end);
    const ok =
      nl >= 0 &&
      line.length > 9 &&
      line[8] === ' ' &&
      crc32(line.slice(9)).toString(16).padStart(8, '0') === line.slice(0, 8);
    if (ok && firstBad !== undefined) {
      throw new StoreError(
        'corrupt',
        `${path}: damaged record at byte ${firstBad} followed by valid records; refusing to guess (restore the file or move it away)`,
      );
    }
    if (ok) lines.push(line.slice(9));
    else firstBad ??= offset;
    offset = nl < 0 ? buf.length : nl + 1;
  }
  const validBytes = firstBad ?? buf.length;
  return { lines, validBytes, tornBytes: buf.length - validBytes };
}

/** Writes a file atomically and durably: temp file, fsync, rename, fsync of the directory. */
export async function writeFileDurably(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

interface Pending {
  readonly line: string;
  readonly onDurable: () => void;
  readonly reject: (err: Error) => void;
}

export class Wal {
  private queue: Pending[] = [];
  private readonly failureListeners: ((err: StoreError) => void)[] = [];
  private running = false;
  private failure: StoreError | undefined;
  private bytes: number;
  /** Runs exclusively between batches (compaction). */
  private maintenance: (() => Promise<void>) | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Writes (each followed by one fdatasync) and the records they carried. */
  batches = 0;
  records = 0;

  private constructor(
    private fh: FileHandle,
    readonly path: string,
    private readonly sync: boolean,
    size: number,
  ) {
    this.bytes = size;
  }

  static async open(path: string, sync: boolean, truncateTo?: number): Promise<Wal> {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'a+');
    if (truncateTo !== undefined) {
      await fh.truncate(truncateTo);
      await fh.sync();
    }
    const { size } = await fh.stat();
    return new Wal(fh, path, sync, size);
  }

  get size(): number {
    return this.bytes;
  }

  get failed(): StoreError | undefined {
    return this.failure;
  }

  /** `onDurable` runs synchronously in append order once the line is on disk. */
  append(line: string, onDurable: () => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({
        line,
        onDurable: () => {
          onDurable();
          resolve();
        },
        reject,
      });
      if (!this.running) void this.run();
    });
  }

  /** Schedules `task` to run alone, after the batch in flight. */
  scheduleMaintenance(task: () => Promise<void>): void {
    this.maintenance = task;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    while ((this.queue.length > 0 || this.maintenance) && !this.failure) {
      const task = this.maintenance;
      this.maintenance = undefined;
      if (task) {
        try {
          await task();
        } catch (err) {
          this.fail(new StoreError('io', `compaction failed: ${(err as Error).message}`));
        }
        continue;
      }
      const batch = this.queue;
      this.queue = [];
      const data = Buffer.from(batch.map((p) => p.line).join(''));
      try {
        // One write(2) may store fewer bytes than asked (a full disk stores what fits, then says
        // ENOSPC on the next call). A short write is a failure, not something to continue after:
        // the bytes on disk now end mid-record, and nothing behind them may be acknowledged.
        const { bytesWritten } = await this.fh.write(data, 0, data.length);
        if (bytesWritten !== data.length) {
          throw new Error(`short write: ${bytesWritten} of ${data.length} bytes (disk full?)`);
        }
        // A failed fdatasync is never retried (the kernel may have dropped the dirty pages and a
        // second call would report success for data that is gone: PostgreSQL's "fsyncgate").
        if (this.sync) await this.fh.datasync();
        this.bytes += data.length;
        this.batches++;
        this.records += batch.length;
      } catch (err) {
        // The callers are told the batch failed, so it must not come back after a restart either:
        // cut what part of it reached the file (best effort; recovery cuts a torn tail anyway).
        await this.fh.truncate(this.bytes).catch(() => {});
        this.fail(new StoreError('io', `cannot write ${this.path}: ${(err as Error).message}`), batch);
        break;
      }
      for (const p of batch) p.onDurable();
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private fail(err: StoreError, batch: Pending[] = []): void {
    this.failure = err;
    for (const p of [...batch, ...this.queue.splice(0)]) p.reject(err);
    for (const listener of this.failureListeners) listener(err);
  }

  /** Called once when the log fails for good; the owner must stop and let a supervisor restart
   *  it from what is durable (etcd exits on a WAL write error for the same reason). */
  onFailure(listener: (err: StoreError) => void): void {
    this.failureListeners.push(listener);
  }

  /** Replaces the log with an empty one (after a snapshot made its records redundant). */
  async reset(): Promise<void> {
    await this.fh.truncate(0);
    await this.fh.sync();
    this.bytes = 0;
  }

  async idle(): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    await this.idle();
    await this.fh.close();
  }
}

export const WAL_FILE = 'wal.log';
export const SNAPSHOT_FILE = 'snapshot.json';
export const walPath = (dir: string): string => join(dir, WAL_FILE);
export const snapshotPath = (dir: string): string => join(dir, SNAPSHOT_FILE);
