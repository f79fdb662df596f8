// Retries with capped exponential backoff and full jitter: the n-th wait is uniform(0, max) with
// max doubling from `minMs` to `maxMs` (the DC/OS agent module's 5 s → 10 min schedule by default).

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
  readonly onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}

/** The successive wait bounds: min, 2·min, … capped at max. */
export function backoffBound(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

export async function retry<T>(fn: () => Promise<T>, opts: BackoffOptions): Promise<T> {
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? abortableSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const wait = Math.round(random() * backoffBound(attempt, opts.minMs, opts.maxMs));
      opts.onRetry?.(err, attempt + 1, wait);
      await sleep(wait, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
