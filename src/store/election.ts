// Leader election on any Store: the leader holds a key under a lease (etcd's classic recipe).
// Campaign = create-if-absent; followers watch the key and campaign again when it goes. The
// leader's writes carry `fence()` (the key's create revision), so a deposed leader cannot write.
import type { Logger } from 'pino';
import { StoreError, type Compare, type LeaseId, type Store, type Watch } from './types.js';

export interface ElectionOptions {
  readonly store: Store;
  readonly key: string;
  /** What followers learn about the leader (e.g. its URL). */
  readonly value: string;
  /** Lease TTL: how long a dead leader blocks the next one (default 2 s). */
  readonly ttlSeconds?: number;
  /** A leader that has not renewed its lease for this long steps down by itself, before the
   *  lease can expire and another master take over (Kubernetes' RenewDeadline; default 2/3 of
   *  the TTL). A leader cut off from the store thus never acts beside the next one. */
  readonly renewDeadlineMs?: number;
  readonly log: Logger;
  readonly onElected: () => Promise<void> | void;
  readonly onDemoted: (reason: string) => void;
  readonly onLeaderChange?: (value: string | undefined) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LeaderElection {
  private lease: LeaseId | undefined;
  private createRevision: number | undefined;
  private leaderValue: string | undefined;
  private watch: Watch | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /** When the last successful renewal was sent (the lease runs at least TTL from then). */
  private renewedAt = 0;
  private stopped = false;
  private campaigning = false;

  constructor(private readonly o: ElectionOptions) {}

  get isLeader(): boolean {
    return this.createRevision !== undefined;
  }

  /** The current leader's value, as last seen. */
  get leader(): string | undefined {
    return this.isLeader ? this.o.value : this.leaderValue;
  }

  /** The compare that makes a write conditional on still being the leader. */
  fence(): Compare[] {
    if (this.createRevision === undefined) throw new StoreError('invalid', 'not the leader');
    return [{ key: this.o.key, target: 'createRevision', result: 'equal', value: this.createRevision }];
  }

  start(): void {
    void this.campaign();
  }

  /** Steps down: revoking the lease lets another candidate take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.keepAliveTimer);
    this.watch?.close();
    if (this.lease !== undefined) await this.o.store.revokeLease(this.lease).catch(() => {});
  }

  private setLeader(value: string | undefined): void {
    if (value === this.leaderValue) return;
    this.leaderValue = value;
    this.o.onLeaderChange?.(value);
  }

  private demote(reason: string): void {
    if (this.createRevision === undefined) return;
    this.createRevision = undefined;
    this.o.log.warn({ reason }, 'lost leadership');
    this.o.onDemoted(reason);
  }

  private async ensureLease(): Promise<LeaseId> {
    if (this.lease !== undefined) return this.lease;
    const ttl = this.o.ttlSeconds ?? 2;
    const sent = Date.now();
    this.lease = await this.o.store.grantLease(ttl);
    this.renewedAt = sent;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = setInterval(() => void this.keepAlive(), Math.max(100, (ttl * 1000) / 4));
    this.keepAliveTimer.unref();
    return this.lease;
  }

  private get renewDeadlineMs(): number {
    return this.o.renewDeadlineMs ?? ((this.o.ttlSeconds ?? 2) * 1000 * 2) / 3;
  }

  private async keepAlive(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined || this.stopped) return;
    // Checked on the timer, not after the call: a call to an unreachable store may hang.
    if (this.isLeader && Date.now() - this.renewedAt > this.renewDeadlineMs) {
      this.lease = undefined;
      this.demote(
        `could not renew the leader lease for ${Math.round(this.renewDeadlineMs)} ms (store unreachable?)`,
      );
      void this.campaign();
      return;
    }
    const sent = Date.now();
    try {
      await this.o.store.keepAlive(lease);
      if (this.lease === lease) this.renewedAt = Math.max(this.renewedAt, sent);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'lease-not-found') {
        this.lease = undefined;
        this.demote('our lease expired');
        void this.campaign();
      }
      // Unreachable store: keep trying; the lease decides.
    }
  }

  private async campaign(): Promise<void> {
    if (this.campaigning || this.stopped) return;
    this.campaigning = true;
    try {
      while (!this.stopped && !this.isLeader) {
        try {
          const lease = await this.ensureLease();
          const res = await this.o.store.txn({
            compare: [{ key: this.o.key, target: 'createRevision', result: 'equal', value: 0 }],
            success: [{ type: 'put', key: this.o.key, value: this.o.value, lease }],
          });
          if (res.succeeded) {
            this.createRevision = res.revision;
            this.leaderValue = this.o.value;
            this.o.log.info({ revision: res.revision }, 'elected leader');
            this.followOwnKey(res.revision);
            await this.o.onElected();
            return;
          }
          const current = await this.o.store.get(this.o.key);
          if (!current) continue;
          this.setLeader(current.value);
          await this.awaitVacancy(current.modRevision);
        } catch (err) {
          if (err instanceof StoreError && err.code === 'lease-not-found') this.lease = undefined;
          this.o.log.warn({ err: (err as Error).message }, 'election: store unavailable; retrying');
          await sleep(200);
        }
      }
    } finally {
      this.campaigning = false;
    }
  }

  /** Resolves once the leader key is gone (its holder died or stepped down). */
  private awaitVacancy(fromRevision: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.watch?.close();
        resolve();
      };
      this.watch = this.o.store.watch({
        prefix: this.o.key,
        fromRevision: fromRevision + 1,
        onEvents: (events) => {
          for (const e of events) {
            if (e.kv.key !== this.o.key) continue;
            if (e.type === 'delete') {
              this.setLeader(undefined);
              done();
              return;
            }
            this.setLeader(e.kv.value);
          }
        },
        onError: () => done(),
      });
    });
  }

  /** While leading: if the key goes (revoked, deleted by hand), step down. */
  private followOwnKey(revision: number): void {
    this.watch = this.o.store.watch({
      prefix: this.o.key,
      fromRevision: revision + 1,
      onEvents: (events) => {
        if (events.some((e) => e.kv.key === this.o.key && e.type === 'delete')) {
          this.demote('leader key deleted');
          this.watch?.close();
          void this.campaign();
        }
      },
    });
  }
}
