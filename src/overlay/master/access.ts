// Who may do what on a master's control plane: the one table of routes and store operations, read
// by the request guard (src/pki installAuth) and the store API (StoreGuard below). Everything not
// listed here is open to masters only.
//
//   route / store op                      agent                    master   operator
//   GET  /health                          open to anyone (says nothing sensitive)
//   GET  state, status, pools, agents/:ip, metrics       yes           yes      yes
//   POST /overlay-master/agents (register) only as its cert's IP   yes      no
//   POST /overlay-master/agents/ack       only as its cert's IP    yes      no
//   POST /overlay-master/agents/delete    no                       yes      yes (admin)
//   store get / range / watch / status    yes                      yes      yes
//   store txn (put, delete; compares free) only its own keys       yes*     no
//   store lease grant                     yes (quota, TTL cap)     yes      no
//   store lease keepalive / revoke        only its own leases      yes      no
//
// An agent's own keys are exactly overlay/nodes/<ip> and overlay/node-status/<ip> for the IPs
// in its certificate. *Reserved keys (the leader key, master presence, lease owners) are
// written only by the masters' own processes, never through the store API, so no certificate
// can take over the leader key by deleting and re-putting it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  describeIdentity,
  type AuthGuard,
  type Identity,
  type RefusalReason,
  type Role,
  type RouteRule,
} from '../../pki/index.js';
import {
  StoreError,
  STORE_PREFIX,
  type LeaseId,
  type Store,
  type StoreAccess,
  type StoreCall,
} from '../../store/index.js';
import { nodeKey, nodeStatusKey } from '../types.js';
import { LEADER_KEY, MASTERS_PREFIX } from './ha.js';

const ANY: readonly Role[] = ['agent', 'master', 'operator'];
const NODES: readonly Role[] = ['agent', 'master'];
const ADMIN: readonly Role[] = ['operator', 'master'];

/** The IP a registration or acknowledgement is for (the body's `ip`, exactly as sent). */
const bodyIp = (request: FastifyRequest): string | undefined => {
  const ip = (request.body as { ip?: unknown } | undefined)?.ip;
  return typeof ip === 'string' ? ip : undefined;
};

/** The POST endpoints that answer 405 to other methods (as libprocess does). */
export const POST_ONLY_URLS = [
  '/overlay-master/agents',
  '/overlay-master/agents/delete',
  '/overlay-master/agents/ack',
] as const;

export const CONTROL_PLANE_ROUTES: readonly RouteRule[] = [
  { method: 'GET', url: '/health', allow: 'public' },
  { method: 'GET', url: '/metrics', allow: ANY },
  { method: 'GET', url: '/overlay-master/state', allow: ANY },
  { method: 'GET', url: '/overlay-master/status', allow: ANY },
  { method: 'GET', url: '/overlay-master/pools', allow: ANY },
  { method: 'GET', url: '/overlay-master/agents/:ip', allow: ANY },
  { method: 'POST', url: '/overlay-master/agents', allow: NODES, actsAs: bodyIp },
  { method: 'POST', url: '/overlay-master/agents/ack', allow: NODES, actsAs: bodyIp },
  { method: 'POST', url: '/overlay-master/agents/delete', allow: ADMIN },
  // Only a 405 answer: nothing happens.
  ...POST_ONLY_URLS.flatMap((url) =>
    (['GET', 'PUT', 'DELETE', 'PATCH'] as const).map((method) => ({ method, url, allow: ANY })),
  ),
  { method: 'POST', url: `${STORE_PREFIX}/get`, allow: ANY },
  { method: 'POST', url: `${STORE_PREFIX}/range`, allow: ANY },
  { method: 'GET', url: `${STORE_PREFIX}/watch`, allow: ANY },
  { method: 'GET', url: `${STORE_PREFIX}/status`, allow: ANY },
  { method: 'POST', url: `${STORE_PREFIX}/txn`, allow: NODES },
  { method: 'POST', url: `${STORE_PREFIX}/lease/grant`, allow: NODES },
  { method: 'POST', url: `${STORE_PREFIX}/lease/keepalive`, allow: NODES },
  { method: 'POST', url: `${STORE_PREFIX}/lease/revoke`, allow: NODES },
];

/** Lease owners, one key per lease under that lease (so it goes when the lease goes). */
export const LEASE_OWNERS_PREFIX = 'auth/leases/';
const ownerPrefix = (id: Identity): string => `${LEASE_OWNERS_PREFIX}${describeIdentity(id)}/`;

/** Keys no caller writes through the store API. */
export function isReservedKey(key: string): boolean {
  return key === LEADER_KEY || key.startsWith(MASTERS_PREFIX) || key.startsWith(LEASE_OWNERS_PREFIX);
}

/** The keys an agent may put and delete: its own node info and status, per certificate IP. */
export function agentOwnKeys(id: Identity): Set<string> {
  return new Set(id.ips.flatMap((ip) => [nodeKey(ip), nodeStatusKey(ip)]));
}

/** Most live leases one agent may hold (restarts within a grace period each take one). */
export const AGENT_LEASE_QUOTA = 16;
/** Longest lease an agent may ask for: its keys must not outlive it by more. */
export const AGENT_LEASE_MAX_TTL_S = 3600;

export type StoreDecision =
  | { readonly allow: true; readonly ownLeases: readonly LeaseId[]; readonly quota: boolean }
  | { readonly allow: false; readonly reason: RefusalReason; readonly detail: string };

const refuse = (reason: RefusalReason, detail: string): StoreDecision => ({ allow: false, reason, detail });
const allow = (ownLeases: readonly LeaseId[] = [], quota = false): StoreDecision => ({
  allow: true,
  ownLeases,
  quota,
});

/** The store rule for one call (pure; lease ownership and quota are checked by the caller). */
export function storeDecision(id: Identity, call: StoreCall): StoreDecision {
  switch (call.op) {
    case 'get':
    case 'range':
    case 'watch':
      return allow();
    case 'txn': {
      const ops = [...call.request.success, ...(call.request.failure ?? [])];
      const reserved = ops.find((o) => isReservedKey(o.key));
      if (reserved)
        return refuse('reserved-key', `${reserved.key} is written only by the masters themselves`);
      if (id.role === 'master') return allow();
      if (id.role !== 'agent') return refuse('role', `role ${id.role} may not write to the store`);
      const own = agentOwnKeys(id);
      const foreign = ops.find((o) => !own.has(o.key));
      if (foreign)
        return refuse(
          'not-own-key',
          `agent ${id.name} may write only ${[...own].join(', ')}, not ${foreign.key}`,
        );
      const leases = ops.flatMap((o) =>
        o.type === 'put' && o.lease !== undefined && o.lease !== '0' ? [o.lease] : [],
      );
      return allow([...new Set(leases)]);
    }
    case 'lease-grant':
      if (id.role === 'master') return allow();
      if (id.role !== 'agent') return refuse('role', `role ${id.role} may not hold leases`);
      if (call.ttl > AGENT_LEASE_MAX_TTL_S)
        return refuse(
          'lease-quota',
          `an agent's lease lasts at most ${AGENT_LEASE_MAX_TTL_S} s, not ${call.ttl}`,
        );
      return allow([], true);
    case 'lease-keepalive':
    case 'lease-revoke':
      if (id.role === 'master') return allow();
      if (id.role !== 'agent') return refuse('role', `role ${id.role} may not hold leases`);
      return allow([call.lease]);
  }
}

/** The store API's access check: the table above plus lease ownership, kept in the store. */
export class StoreGuard implements StoreAccess {
  constructor(
    private readonly store: Store,
    private readonly guard: AuthGuard,
  ) {}

  async authorize(
    request: FastifyRequest,
    reply: FastifyReply,
    call: StoreCall,
  ): Promise<'allowed' | 'refused'> {
    const id = this.guard.identity(request);
    const refused = (status: 401 | 403, reason: RefusalReason, detail: string): 'refused' => {
      this.guard.refuse(request, reply, status, reason, detail);
      return 'refused';
    };
    // The route table already refused callers without an identity.
    if (!id) return refused(401, 'no-certificate', 'a client certificate is required');
    const d = storeDecision(id, call);
    if (!d.allow) return refused(403, d.reason, d.detail);
    if (d.quota) {
      const held = await this.store.range(ownerPrefix(id));
      if (held.kvs.length >= AGENT_LEASE_QUOTA)
        return refused(
          403,
          'lease-quota',
          `${describeIdentity(id)} holds ${held.kvs.length} leases already (at most ${AGENT_LEASE_QUOTA})`,
        );
    }
    for (const lease of d.ownLeases) {
      if ((await this.store.get(`${ownerPrefix(id)}${lease}`)) === undefined) {
        // Another's lease, or one that expired: the same answer as for a lease that is gone, so
        // the agent grants itself a new one and an intruder learns nothing.
        request.log.debug({ identity: describeIdentity(id), lease }, 'lease not held by the caller');
        throw new StoreError('lease-not-found', `lease ${lease} not found`);
      }
    }
    return 'allowed';
  }

  async granted(request: FastifyRequest, lease: LeaseId): Promise<void> {
    const id = this.guard.identity(request);
    if (id?.role !== 'agent') return;
    await this.store.put(`${ownerPrefix(id)}${lease}`, describeIdentity(id), { lease });
  }
}
