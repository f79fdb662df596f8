// Inputs a node refused: store entries and master answers that did not parse. Each is logged once
// with its key and field, counted (`dcnet_rejected_input_total{source,field}`), listed here for the
// agent's HTTP API and its status document (`dcnet status`), and skipped: the rest still applies.
// An entry leaves the list when its key parses again or is deleted.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { quote } from '../net/index.js';

/** Where a refused value came from. */
export type RejectionSource = 'peer' | 'vip' | 'master';

export interface RejectedField {
  /** The field inside the value (`vtep.mac`, `backends.0.ip`), or `key`/`(value)`. */
  readonly field: string;
  readonly problem: string;
}

export interface Rejection extends RejectedField {
  readonly source: RejectionSource;
  /** The store key, or what the value answered (`master <url>`). */
  readonly key: string;
  /** When this key was first refused with this problem. */
  readonly since: string;
}

/** A node's own API lists up to this many refused fields; the published status document fewer. */
export const MAX_LISTED = 1000;

export class Rejections {
  private readonly byKey = new Map<string, Rejection[]>();
  private readonly listeners = new Set<() => void>();
  private readonly counter: Counter<'source' | 'field'> | undefined;

  constructor(
    private readonly log?: Logger,
    registry?: Registry,
  ) {
    if (registry) {
      this.counter = new Counter({
        name: 'dcnet_rejected_input_total',
        help: 'Values refused where they entered this node (store entries, master answers), by source and field',
        labelNames: ['source', 'field'],
        registers: [registry],
      });
      const count = (): Map<RejectionSource, number> => this.countBySource();
      new Gauge({
        name: 'dcnet_rejected_inputs',
        help: 'Keys whose current value is refused, by source',
        labelNames: ['source'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [source, n] of count()) this.set({ source }, n);
        },
      });
    }
  }

  private static id(source: RejectionSource, key: string): string {
    return `${source} ${key}`;
  }

  /** `key` from `source` was refused for these reasons. Logged and counted when new or changed. */
  reject(source: RejectionSource, key: string, fields: readonly RejectedField[]): void {
    const id = Rejections.id(source, key);
    const before = this.byKey.get(id);
    const same =
      before !== undefined &&
      before.length === fields.length &&
      before.every((r, i) => r.field === fields[i]!.field && r.problem === fields[i]!.problem);
    if (same) return;
    const since = new Date().toISOString();
    const now = fields.map((f) => ({ source, key, field: f.field, problem: f.problem, since }));
    this.byKey.set(id, now);
    for (const f of fields) {
      this.counter?.inc({ source, field: genericField(f.field) });
      this.log?.warn(
        { source, key: quote(key), field: f.field, problem: f.problem },
        `rejected ${source} input ${quote(key)}: ${f.field}: ${f.problem}; skipped, the rest still applies`,
      );
    }
    this.changed();
  }

  /** `key` parsed again, or is gone: no longer listed. */
  accept(source: RejectionSource, key: string): void {
    if (!this.byKey.delete(Rejections.id(source, key))) return;
    this.log?.info({ source, key: quote(key) }, `${source} input ${quote(key)} accepted again`);
    this.changed();
  }

  /** After a full re-read of a source: forgets the keys that are not there any more. */
  retainOnly(source: RejectionSource, keys: ReadonlySet<string>): void {
    let changed = false;
    for (const id of [...this.byKey.keys()]) {
      const [s, ...rest] = id.split(' ');
      if (s === source && !keys.has(rest.join(' '))) {
        this.byKey.delete(id);
        changed = true;
      }
    }
    if (changed) this.changed();
  }

  has(source: RejectionSource, key: string): boolean {
    return this.byKey.has(Rejections.id(source, key));
  }

  list(limit = MAX_LISTED): Rejection[] {
    return [...this.byKey.values()].flat().slice(0, limit);
  }

  /** Refused keys (each may have several refused fields). */
  get size(): number {
    return this.byKey.size;
  }

  private countBySource(): Map<RejectionSource, number> {
    const out = new Map<RejectionSource, number>();
    for (const rs of this.byKey.values()) out.set(rs[0]!.source, (out.get(rs[0]!.source) ?? 0) + 1);
    return out;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.log?.error({ err }, 'rejections listener failed');
      }
    }
  }
}

/** Array indices out of a field path, so that the metric's label set stays small. */
export const genericField = (field: string): string => field.replace(/\.\d+(?=\.|$)/g, '[]');
