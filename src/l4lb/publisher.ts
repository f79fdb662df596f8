// The master side: the leading master derives the VIP table from each Mesos state and writes
// what changed into the store (one key per VIP, so that a change travels as that VIP only).
// Label errors are logged by name when they appear and kept under `l4lb/errors`.
import type { Logger } from 'pino';
import type { MesosState } from '../cluster/index.js';
import type { Op, Store } from '../store/index.js';
import { deriveVipTable, keptAddresses, type DeriveOptions } from './derive.js';
import type { VipLabelError } from './labels.js';
import { L4LB_ERRORS_KEY, parseVipEntry, vipKey, VIPS_PREFIX, type ParsedVip } from './types.js';

export interface L4lbPublisherOptions {
  readonly store: Store;
  readonly log: Logger;
  /** Only the leader writes (HA masters); default: always. */
  readonly isLeader?: () => boolean;
  readonly derive?: DeriveOptions;
}

/** etcd's default limit of operations per transaction is 128. */
const TXN_OPS = 100;

export class L4lbPublisher {
  /** What the store holds under VIPS_PREFIX, as this publisher knows it (undefined: read it). */
  private published: Map<string, string> | undefined;
  private errorsJson = '[]';
  private running: Promise<void> | undefined;
  private pending: MesosState | undefined;

  constructor(private readonly o: L4lbPublisherOptions) {}

  /** Publishes the table of `state` (latest wins while a write is under way). */
  update(state: MesosState): Promise<void> {
    this.pending = state;
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const state = this.pending;
      this.pending = undefined;
      if (this.o.isLeader && !this.o.isLeader()) {
        this.published = undefined; // another master writes; re-read when leading again
        continue;
      }
      try {
        await this.publish(state);
      } catch (err) {
        this.published = undefined;
        this.o.log.warn(
          { err: (err as Error).message },
          'could not publish the VIP table; retrying with the next state',
        );
      }
    }
  }

  private logErrors(errors: readonly VipLabelError[]): string {
    const json = JSON.stringify(errors);
    if (json !== this.errorsJson) {
      for (const e of errors)
        this.o.log.error(
          { code: e.code, task: e.task, label: e.label, value: e.value },
          `invalid VIP label: ${e.message}`,
        );
      if (errors.length === 0) this.o.log.info('no invalid VIP labels any more');
    }
    return json;
  }

  private async publish(state: MesosState): Promise<void> {
    const started = performance.now();
    if (!this.published) {
      const { kvs } = await this.o.store.range(VIPS_PREFIX);
      this.published = new Map(kvs.map((kv) => [kv.key, kv.value]));
    }
    // The published table is the memory of which address each named VIP holds (a new leader
    // reads it from the store first), so addresses never move when other names come and go.
    const held: ParsedVip[] = [];
    for (const [key, value] of this.published) {
      const { vip } = parseVipEntry(key, value);
      if (vip) held.push(vip);
    }
    const { table, errors } = deriveVipTable(state, { ...this.o.derive, kept: keptAddresses(held) });
    const errorsJson = this.logErrors(errors);
    const want = new Map(table.vips.map((v) => [`${VIPS_PREFIX}${vipKey(v)}`, JSON.stringify(v)]));
    const ops: Op[] = [];
    for (const [key, value] of want)
      if (this.published.get(key) !== value) ops.push({ type: 'put', key, value });
    for (const key of this.published.keys()) if (!want.has(key)) ops.push({ type: 'delete', key });
    if (errorsJson !== this.errorsJson) ops.push({ type: 'put', key: L4LB_ERRORS_KEY, value: errorsJson });
    for (let i = 0; i < ops.length; i += TXN_OPS) {
      const chunk = ops.slice(i, i + TXN_OPS);
      await this.o.store.txn({ success: chunk });
      for (const op of chunk) {
        if (op.key === L4LB_ERRORS_KEY) continue;
        if (op.type === 'put') this.published.set(op.key, op.value);
        else this.published.delete(op.key);
      }
    }
    this.errorsJson = errorsJson;
    if (ops.length > 0)
      this.o.log.info(
        { vips: want.size, changed: ops.length, ms: Math.round(performance.now() - started) },
        'VIP table published',
      );
  }
}
