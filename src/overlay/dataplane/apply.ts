// Applies a desired data plane: read what the kernel has (`ip -j`, `bridge -j`), plan the
// difference, apply it in one `ip -batch` and one `bridge -batch`. Runs are serialised and
// coalesced: a request during a run causes exactly one more run with the newest desired state.
// A command the kernel refuses (a route via an unreachable gateway, say) is reported with its line
// and the rest of the batch still applies: one bad entry never holds back the others.
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
  type BatchResult,
  type RunOptions,
} from '../../kernel/index.js';
import { planEntries, planVtep, type ActualEntries } from './plan.js';
import { OVERLAY_TABLE, ROUTE_PROTO, type DesiredDataplane } from './types.js';

/** One command the kernel refused: its batch line and the tool's message. */
export interface ItemFailure {
  readonly line: string;
  readonly error: string;
}

export interface ReconcileResult {
  readonly changes: number;
  readonly lines: readonly string[];
  /** Commands the kernel refused; everything else in `lines` was applied. */
  readonly failures: readonly ItemFailure[];
}

const failuresOf = (r: BatchResult<unknown>, prefix = ''): ItemFailure[] =>
  r.failures.map((f) => ({ line: `${prefix}${f.line}`, error: f.error }));

/** Without the device nothing else can be programmed: those failures fail the run. */
const VTEP_FATAL = new Set(['link-del', 'link-add-vxlan', 'link-set']);

export async function reconcileDataplane(
  want: DesiredDataplane,
  opts: RunOptions = {},
): Promise<ReconcileResult> {
  const link = await readLink(want.vtep.name, opts);
  const addrs = link ? await readAddrs(want.vtep.name, opts) : [];
  const vtep = await ipBatch(planVtep(want.vtep, link, addrs), opts);
  const fatal = vtep.failures.filter((f) => VTEP_FATAL.has(f.command.op));
  if (fatal.length > 0)
    throw new Error(`${want.vtep.name}: ${fatal.map((f) => `${f.line}: ${f.error}`).join('; ')}`);
  const [neighbours, fdb, routes, rules] = await Promise.all([
    readNeighbours(want.vtep.name, opts),
    readFdb(want.vtep.name, opts),
    readRoutes(ROUTE_PROTO, opts),
    readRules(opts),
  ]);
  const plan = planEntries(want, { neighbours, fdb, routes, rules });
  const ip = await ipBatch(plan.ip, opts);
  const bridge = await bridgeBatch(plan.bridge, opts);
  const lines = [...vtep.lines, ...ip.lines, ...bridge.lines.map((l) => `bridge ${l}`)];
  return {
    changes: lines.length,
    lines,
    failures: [...failuresOf(vtep), ...failuresOf(ip), ...failuresOf(bridge, 'bridge ')],
  };
}

/** A desired state seen as if it were the kernel's: the base of an incremental plan. */
export function asActual(d: DesiredDataplane): ActualEntries {
  return {
    neighbours: d.neighbours.map((n) => ({ dst: n.ip, lladdr: n.mac, state: ['PERMANENT'] })),
    fdb: d.fdb.map((f) => ({ mac: f.mac, dst: f.dst, state: 'permanent' })),
    routes: d.routes.map((r) => ({
      dst: r.dst,
      gateway: r.via,
      dev: d.vtep.name,
      ...(r.table !== undefined && { table: String(r.table) }),
    })),
    rules: d.rules.map((from) => ({ priority: 0, from, table: String(OVERLAY_TABLE) })),
  };
}

const sameVtep = (a: DesiredDataplane, b: DesiredDataplane): boolean =>
  JSON.stringify(a.vtep) === JSON.stringify(b.vtep);

/** Applies only the difference between two desired states, without reading the kernel back. */
export async function applyIncrement(
  from: DesiredDataplane,
  to: DesiredDataplane,
  opts: RunOptions = {},
): Promise<ReconcileResult> {
  const plan = planEntries(to, asActual(from));
  const ip = await ipBatch(plan.ip, opts);
  const bridge = await bridgeBatch(plan.bridge, opts);
  const lines = [...ip.lines, ...bridge.lines.map((l) => `bridge ${l}`)];
  return { changes: lines.length, lines, failures: [...failuresOf(ip), ...failuresOf(bridge, 'bridge ')] };
}

export class DataplaneReconciler {
  private running: Promise<void> | undefined;
  private pending: DesiredDataplane | undefined;
  private pendingFull = false;
  private lastError: string | undefined;
  private lastFailures: readonly ItemFailure[] = [];
  /** What this reconciler last put into the kernel; undefined until a full run succeeded. */
  private applied: DesiredDataplane | undefined;

  constructor(
    private readonly log: Logger,
    private readonly opts: RunOptions = {},
    private readonly onApplied?: (result: ReconcileResult, ms: number) => void,
  ) {}

  /** Why the last run failed as a whole (the kernel could not be read, the VTEP not made). */
  get error(): string | undefined {
    return this.lastError;
  }

  /** Commands the kernel refused in the last run; the rest of that run was applied. */
  get failures(): readonly ItemFailure[] {
    return this.lastFailures;
  }

  /** Requests a run with `want`; resolves when a run that includes it has finished. A full run
   *  reads the kernel back and repairs drift (start, resync timer); otherwise only the difference
   *  from the last applied state is sent (peer changes: two commands per node instead of nine). */
  request(want: DesiredDataplane, full = true): Promise<void> {
    this.pending = want;
    this.pendingFull ||= full;
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const want = this.pending;
        const base =
          this.pendingFull || !this.applied || !sameVtep(this.applied, want) ? undefined : this.applied;
        this.pending = undefined;
        this.pendingFull = false;
        const started = performance.now();
        try {
          this.applied = undefined;
          const result = base
            ? await applyIncrement(base, want, this.opts)
            : await reconcileDataplane(want, this.opts);
          const ms = performance.now() - started;
          if (result.changes > 0)
            this.log.info({ changes: result.lines, ms: Math.round(ms) }, 'data plane updated');
          // Logged when new: a refusal retried on every resync is not news every second.
          const known = new Set(this.lastFailures.map((f) => f.line));
          for (const f of result.failures)
            if (!known.has(f.line))
              this.log.warn(
                { command: f.line, error: f.error },
                'kernel refused one data plane entry; the rest is applied',
              );
          // With refusals the kernel is not what `want` says: the next run reads it back and retries them.
          this.applied = result.failures.length === 0 ? want : undefined;
          if (result.failures.length === 0 && this.lastFailures.length > 0)
            this.log.info('every data plane entry is programmed again');
          this.lastFailures = result.failures;
          if (this.lastError) this.log.info('data plane repaired after earlier failure');
          this.lastError = undefined;
          this.onApplied?.(result, ms);
        } catch (err) {
          this.lastError = (err as Error).message;
          this.log.error({ err }, 'data plane update failed; retrying at the next resync');
          // The kernel is in an unknown state now: the next run reads it back.
          this.pendingFull = true;
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
