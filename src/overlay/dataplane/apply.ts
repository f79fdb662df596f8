// Applies a desired data plane: read what the kernel has (`ip -j`, `bridge -j`), plan the
// difference, apply it in one `ip -batch` and one `bridge -batch`. Runs are serialised and
// coalesced: a request during a run causes exactly one more run with the newest desired state.
import type { Logger } from 'pino';
import {
  bridgeBatch,
  ipBatch,
  readAddrs,
  readFdb,
  readLink,
  readNeighbours,
  readRoutes,
  readRules,
  type RunOptions,
} from '../../kernel/index.js';
import { planEntries, planVtep } from './plan.js';
import { ROUTE_PROTO, type DesiredDataplane } from './types.js';

export interface ReconcileResult {
  readonly changes: number;
  readonly lines: readonly string[];
}

export async function reconcileDataplane(
  want: DesiredDataplane,
  opts: RunOptions = {},
): Promise<ReconcileResult> {
  const link = await readLink(want.vtep.name, opts);
  const addrs = link ? await readAddrs(want.vtep.name, opts) : [];
  const vtepLines = planVtep(want.vtep, link, addrs);
  await ipBatch(vtepLines, opts);
  const [neighbours, fdb, routes, rules] = await Promise.all([
    readNeighbours(want.vtep.name, opts),
    readFdb(want.vtep.name, opts),
    readRoutes(ROUTE_PROTO, opts),
    readRules(opts),
  ]);
  const plan = planEntries(want, { neighbours, fdb, routes, rules });
  await ipBatch(plan.ip, opts);
  await bridgeBatch(plan.bridge, opts);
  const lines = [...vtepLines, ...plan.ip, ...plan.bridge.map((l) => `bridge ${l}`)];
  return { changes: lines.length, lines };
}

export class DataplaneReconciler {
  private running: Promise<void> | undefined;
  private pending: DesiredDataplane | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly log: Logger,
    private readonly opts: RunOptions = {},
    private readonly onApplied?: (result: ReconcileResult, ms: number) => void,
  ) {}

  get error(): string | undefined {
    return this.lastError;
  }

  /** Requests a run with `want`; resolves when a run that includes it has finished. */
  request(want: DesiredDataplane): Promise<void> {
    this.pending = want;
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const want = this.pending;
        this.pending = undefined;
        const started = performance.now();
        try {
          const result = await reconcileDataplane(want, this.opts);
          const ms = performance.now() - started;
          if (result.changes > 0)
            this.log.info({ changes: result.lines, ms: Math.round(ms) }, 'data plane updated');
          if (this.lastError) this.log.info('data plane repaired after earlier failure');
          this.lastError = undefined;
          this.onApplied?.(result, ms);
        } catch (err) {
          this.lastError = (err as Error).message;
          this.log.error({ err }, 'data plane update failed; retrying at the next resync');
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
