/** Polls `fn` until it returns without throwing, or fails with its last error after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

export const isRoot = (): boolean => process.getuid?.() === 0;
export const NEEDS_ROOT = isRoot() ? false : 'needs root (network namespaces)';
