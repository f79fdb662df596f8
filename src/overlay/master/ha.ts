// Highly available masters on a shared store (etcd): every master serves the API and the store to
// agents; one, elected through the store, allocates. The others forward writes to it, and the
// leader's writes are fenced, so a deposed leader can never hand out an address twice.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { plainClient, type ControlClient } from '../../pki/index.js';
import type { NetworkConfig } from '../../config/index.js';
import { LeaderElection, StoreError, type Compare, type LeaseId, type Store } from '../../store/index.js';
import { ZONES_PREFIX } from '../../dns/dcos/index.js';
import { VIPS_PREFIX } from '../../l4lb/index.js';
import { statusSummary, type StatusSummary } from './status-summary.js';
import {
  AGENTS_PREFIX,
  NODE_STATUS_PREFIX,
  NODES_PREFIX,
  nodeStatusSchema,
  type NodeStatus,
} from '../types.js';
import { OverlayMaster, type MasterEvents } from './master.js';
import type { MasterRef } from './api.js';

export const LEADER_KEY = 'overlay/leader';
export const MASTERS_PREFIX = 'overlay/masters/';

export interface MasterIdentity {
  readonly id: string;
  readonly url: string;
}

/** A master's identity as read from the store (leader key, presence): parsed at the edge. */
const masterIdentitySchema = z
  .object({
    id: z.string(),
    url: z.string().refine((u) => /^https?:\/\/[^/]+$/.test(u), { message: 'must be http(s)://host:port' }),
  })
  .strip();

export function parseMasterIdentity(text: string): MasterIdentity | undefined {
  try {
    const r = masterIdentitySchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export interface HaMasterOptions {
  readonly config: NetworkConfig;
  /** `dcnet_overlay_allocation_gc` (the leader runs the GC); default none. */
  readonly allocationGcSeconds?: number;
  readonly store: Store;
  readonly self: MasterIdentity;
  readonly log: Logger;
  readonly events: MasterEvents;
  /** Leader lease TTL in seconds (default 2): the longest a dead leader blocks registrations. */
  readonly leaderTtlS?: number;
  readonly onLeaderMaster?: (master: OverlayMaster | undefined) => void;
  /** How requests reach the leader: with TLS, a client that accepts only a master's certificate. */
  readonly peers?: ControlClient;
  /** Who sent a request (for the leader's logs: `x-dcnet-forwarded-for`). */
  readonly caller?: (request: FastifyRequest) => string | undefined;
}

export class HaMaster implements MasterRef {
  private master: OverlayMaster | undefined;
  /** Set while a newly elected leader recovers; requests wait for it rather than bounce. */
  private recovering: Promise<OverlayMaster | undefined> | undefined;
  private readonly election: LeaderElection;
  private presenceLease: LeaseId | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: HaMasterOptions) {
    this.election = new LeaderElection({
      store: o.store,
      key: LEADER_KEY,
      value: JSON.stringify(o.self),
      ttlSeconds: o.leaderTtlS ?? 2,
      log: o.log.child({ part: 'election' }),
      onElected: async () => {
        this.recovering = OverlayMaster.start(
          o.config,
          o.store,
          o.log,
          o.events,
          () => this.election.fence(),
          o.allocationGcSeconds !== undefined ? { allocationGcSeconds: o.allocationGcSeconds } : {},
        ).then(
          (m) => m,
          async (err: unknown) => {
            o.log.error({ err }, 'elected but could not recover; stepping down');
            await this.election.stop();
            return undefined;
          },
        );
        this.master = await this.recovering;
        this.recovering = undefined;
        if (this.master) {
          o.onLeaderMaster?.(this.master);
          o.log.info({ agents: this.master.agentCount }, 'leading: allocations recovered from the store');
        }
      },
      onDemoted: () => {
        this.master?.stop();
        this.master = undefined;
        o.onLeaderMaster?.(undefined);
      },
      onLeaderChange: (value) =>
        o.log.info(
          { leader: value && (parseMasterIdentity(value)?.url ?? '(unreadable)') },
          'leader changed',
        ),
    });
  }

  start(): void {
    this.election.start();
    void this.announce();
    this.presenceTimer = setInterval(() => void this.announce(), 2000);
    this.presenceTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.presenceTimer);
    this.master?.stop();
    await this.election.stop();
    if (this.presenceLease !== undefined) await this.o.store.revokeLease(this.presenceLease).catch(() => {});
  }

  current(): OverlayMaster | undefined | Promise<OverlayMaster | undefined> {
    return this.master ?? this.recovering;
  }

  get isLeader(): boolean {
    return this.master !== undefined;
  }

  /** Compares that hold only while this master leads (for writes other roles make as leader). */
  fence(): Compare[] {
    return this.election.fence();
  }

  leader(): MasterIdentity | undefined {
    const v = this.election.leader;
    return v === undefined ? undefined : parseMasterIdentity(v);
  }

  /** Followers pass requests to the leader, marked so that they are never passed on again. */
  async forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const leader = this.leader();
    if (!leader || leader.id === this.o.self.id) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'no leading master yet; retry', code: 'NO_LEADER' });
    }
    const caller = this.o.caller?.(request);
    try {
      const res = await (this.o.peers ?? plainClient).fetch(`${leader.url}${request.url}`, {
        method: request.method,
        headers: {
          'content-type': 'application/json',
          'x-dcnet-forwarded': this.o.self.id,
          ...(caller !== undefined && { 'x-dcnet-forwarded-for': caller }),
        },
        ...(request.method !== 'GET' && request.body !== undefined && { body: JSON.stringify(request.body) }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return reply
        .code(res.status)
        .type(res.headers.get('content-type') ?? 'application/json')
        .header('x-dcnet-leader', leader.url)
        .send(text);
    } catch (err) {
      // A leader that is not a master by its certificate is refused here (TLS), like a dead one.
      const cause = (err as Error & { cause?: Error }).cause?.message;
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({
          error: `leader ${leader.url} unreachable: ${(err as Error).message}${cause ? ` (${cause})` : ''}`,
          code: 'NO_LEADER',
        });
    }
  }

  /** Presence for `dcnet status`: this master's identity under a short lease. */
  private async announce(): Promise<void> {
    try {
      if (this.presenceLease !== undefined) {
        await this.o.store.keepAlive(this.presenceLease);
        return;
      }
      this.presenceLease = await this.o.store.grantLease(6);
      await this.o.store.put(`${MASTERS_PREFIX}${this.o.self.id}`, JSON.stringify(this.o.self), {
        lease: this.presenceLease,
      });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'lease-not-found') this.presenceLease = undefined;
    }
  }

  status(): Promise<ClusterStatus> {
    return clusterStatus(this.o.store, { ...this.o.self, leader: this.isLeader }, this.leader());
  }
}

export interface ClusterStatus {
  self: MasterIdentity & { leader: boolean };
  leader: MasterIdentity | null;
  masters?: MasterIdentity[];
  store: { reachable: boolean; revision?: number; error?: string };
  agents?: {
    ip: string;
    vtep: string;
    published: boolean;
    lease?: string;
    /** What the agent refused and what its kernel refused (its overlay/node-status/<ip>). */
    status?: Omit<NodeStatus, 'ip'>;
  }[];
  /** VIP count and DNS zones, from what the store holds. */
  summary?: StatusSummary;
}

/** An agent's status document; another node's text, so parsed and bounded (undefined if not). */
function nodeStatus(value: string): Omit<NodeStatus, 'ip'> | undefined {
  try {
    const r = nodeStatusSchema.safeParse(JSON.parse(value));
    if (!r.success) return undefined;
    const { ip: _ip, ...rest } = r.data;
    return rest;
  } catch {
    return undefined;
  }
}

/** The cluster as the store shows it: masters, leader, agents and whether they publish (so any
 *  master, leading or not, can answer `dcnet status`). */
export async function clusterStatus(
  store: Store,
  self: MasterIdentity & { leader: boolean },
  leader: MasterIdentity | undefined,
): Promise<ClusterStatus> {
  try {
    const [masters, agents, nodes, statuses, vips, zones] = await Promise.all([
      store.range(MASTERS_PREFIX),
      store.range(AGENTS_PREFIX),
      store.range(NODES_PREFIX),
      store.range(NODE_STATUS_PREFIX),
      store.range(VIPS_PREFIX),
      store.range(ZONES_PREFIX),
    ]);
    const published = new Map(nodes.kvs.map((kv) => [kv.key.slice(NODES_PREFIX.length), kv.lease]));
    const status = new Map(statuses.kvs.map((kv) => [kv.key.slice(NODE_STATUS_PREFIX.length), kv.value]));
    return {
      self,
      leader: leader ?? null,
      masters: masters.kvs.length
        ? masters.kvs.flatMap((kv) => {
            const m = parseMasterIdentity(kv.value);
            return m ? [m] : [];
          })
        : [self],
      store: { reachable: true, revision: agents.revision },
      agents: agents.kvs.map((kv) => {
        const ip = kv.key.slice(AGENTS_PREFIX.length);
        const lease = published.get(ip);
        const text = status.get(ip);
        const s = text === undefined ? undefined : nodeStatus(text);
        return {
          ip,
          vtep: (JSON.parse(kv.value) as { vtep: { ip: string } }).vtep.ip,
          published: lease !== undefined,
          ...(lease !== undefined && { lease }),
          ...(s && { status: s }),
        };
      }),
      summary: statusSummary(
        vips.kvs.length,
        zones.kvs.map((kv) => kv.key.slice(ZONES_PREFIX.length)),
      ),
    };
  } catch (err) {
    return { self, leader: leader ?? null, store: { reachable: false, error: (err as Error).message } };
  }
}
