// Serves a Store over HTTP so that agents reach the master's embedded store: plain JSON calls,
// and watches as a stream of JSON lines that a client resumes from its last revision.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  StoreError,
  type LeaseId,
  type Store,
  type StoreIdentity,
  type TxnRequest,
  type Watch,
  type WatchEvent,
} from './types.js';

export const STORE_PREFIX = '/store/v1';
/** Response headers naming the store behind every store API answer (see identity.ts). */
export const CLUSTER_ID_HEADER = 'x-dcnet-cluster-id';
export const MEMBER_ID_HEADER = 'x-dcnet-member-id';

const op = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('put'),
      key: z.string(),
      value: z.string(),
      lease: z.string().regex(/^\d+$/, { message: 'must be a lease id (decimal digits)' }).optional(),
    })
    .strict(),
  z.object({ type: z.literal('delete'), key: z.string() }).strict(),
]);
const compare = z
  .object({
    key: z.string(),
    target: z.enum(['version', 'createRevision', 'modRevision', 'value']),
    result: z.enum(['equal', 'notEqual', 'greater', 'less']),
    value: z.union([z.number(), z.string()]),
  })
  .strict();
const txnBody = z
  .object({ compare: z.array(compare).optional(), success: z.array(op), failure: z.array(op).optional() })
  .strict();
const keyBody = z.object({ key: z.string() }).strict();
const prefixBody = z.object({ prefix: z.string() }).strict();
const ttlBody = z.object({ ttl: z.number().int().min(1) }).strict();
const leaseBody = z
  .object({ id: z.string().regex(/^\d+$/, { message: 'must be a lease id (decimal digits)' }) })
  .strict();
const watchQuery = z
  .object({ prefix: z.string().default(''), from: z.coerce.number().int().positive().optional() })
  .strict();

const STATUS: Record<StoreError['code'], number> = {
  compacted: 410,
  'lease-not-found': 404,
  closed: 503,
  io: 503,
  corrupt: 500,
  invalid: 400,
  unavailable: 503,
  'foreign-cluster': 502,
};

function fail(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof StoreError) {
    return reply
      .code(STATUS[err.code])
      .send({ error: err.message, code: err.code, compactRevision: err.compactRevision });
  }
  throw err;
}

function parse<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  void reply.code(400).send({
    error: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; '),
    code: 'invalid',
  });
  return undefined;
}

/** One call on the store API, as an access check sees it (after the body was parsed). */
export type StoreCall =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'range' | 'watch'; readonly prefix: string }
  | { readonly op: 'txn'; readonly request: TxnRequest }
  | { readonly op: 'lease-grant'; readonly ttl: number }
  | { readonly op: 'lease-keepalive' | 'lease-revoke'; readonly lease: LeaseId };

/** Who may make which call (the master's access table); without one every call is served. */
export interface StoreAccess {
  /** 'refused' once it has sent the refusal. (Not the reply itself: a FastifyReply is a thenable,
   *  and awaiting it would read as "no refusal".) */
  authorize(request: FastifyRequest, reply: FastifyReply, call: StoreCall): Promise<'allowed' | 'refused'>;
  /** A lease was granted to the caller: remember whose it is. */
  granted?(request: FastifyRequest, lease: LeaseId, ttl: number): Promise<void>;
}

export interface StoreServerOptions {
  /** Interval of the heartbeat line on idle watches (default 5 s), so clients notice dead links. */
  readonly heartbeatMs?: number;
  readonly access?: StoreAccess;
  /** Sent on every answer (headers, the watch start line, GET /status) so that clients can refuse
   *  a server of another store. Default: the store's own, if it has one (the embedded store). */
  readonly identity?: StoreIdentity;
}

function identityOf(store: Store): StoreIdentity | undefined {
  const id = (store as { identity?: unknown }).identity;
  return id && typeof id === 'object' && 'clusterId' in id && 'memberId' in id
    ? (id as StoreIdentity)
    : undefined;
}

export function registerStoreRoutes(app: FastifyInstance, store: Store, opts: StoreServerOptions = {}): void {
  const access = opts.access;
  const identity = opts.identity ?? identityOf(store);
  const idHeaders: Record<string, string> = identity
    ? { [CLUSTER_ID_HEADER]: identity.clusterId, [MEMBER_ID_HEADER]: identity.memberId }
    : {};
  if (identity) {
    // Every answer of this server (it serves this store), refusals and errors included: the
    // agent's registration is held to the same cluster as its store calls.
    app.addHook('onSend', async (_request, reply, payload) => {
      void reply.headers(idHeaders);
      return payload;
    });
  }
  app.get(`${STORE_PREFIX}/status`, async () => ({
    clusterId: identity?.clusterId ?? null,
    memberId: identity?.memberId ?? null,
  }));
  const call = <B>(
    path: string,
    schema: z.ZodType<B>,
    describe: (body: B) => StoreCall,
    fn: (body: B, request: FastifyRequest) => Promise<unknown>,
  ): void => {
    app.post(`${STORE_PREFIX}${path}`, async (request, reply) => {
      const body = parse(schema, request.body, reply);
      if (body === undefined) return reply;
      try {
        if (access && (await access.authorize(request, reply, describe(body))) === 'refused') return reply;
        return reply.send(await fn(body, request));
      } catch (err) {
        return fail(reply, err);
      }
    });
  };
  call(
    '/get',
    keyBody,
    (b) => ({ op: 'get', key: b.key }),
    async (b) => ({ kv: (await store.get(b.key)) ?? null }),
  );
  call(
    '/range',
    prefixBody,
    (b) => ({ op: 'range', prefix: b.prefix }),
    (b) => store.range(b.prefix),
  );
  call(
    '/txn',
    txnBody,
    (b) => ({ op: 'txn', request: b }),
    (b) => store.txn(b),
  );
  call(
    '/lease/grant',
    ttlBody,
    (b) => ({ op: 'lease-grant', ttl: b.ttl }),
    async (b, request) => {
      const id = await store.grantLease(b.ttl);
      if (access?.granted) {
        try {
          await access.granted(request, id, b.ttl);
        } catch (err) {
          // A lease nobody can prove to own is useless to its holder: do not leave it behind.
          await store.revokeLease(id).catch(() => {});
          throw err;
        }
      }
      return { id };
    },
  );
  call(
    '/lease/keepalive',
    leaseBody,
    (b) => ({ op: 'lease-keepalive', lease: b.id }),
    async (b) => ({ ttl: await store.keepAlive(b.id) }),
  );
  call(
    '/lease/revoke',
    leaseBody,
    (b) => ({ op: 'lease-revoke', lease: b.id }),
    async (b) => {
      await store.revokeLease(b.id);
      return {};
    },
  );

  app.get(`${STORE_PREFIX}/watch`, async (request, reply) => {
    const q = parse(watchQuery, request.query, reply);
    if (q === undefined) return reply;
    try {
      if (access && (await access.authorize(request, reply, { op: 'watch', prefix: q.prefix })) === 'refused')
        return reply;
    } catch (err) {
      return fail(reply, err);
    }
    const raw = reply.raw;
    let ended = false;
    const write = (obj: unknown): void => {
      if (!ended) raw.write(`${JSON.stringify(obj)}\n`);
    };
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      watch?.close();
      raw.end();
    };
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', ...idHeaders });
    // Heartbeat lines carry no revision: resuming is only ever from delivered events.
    const heartbeat = setInterval(() => write({ heartbeat: true }), opts.heartbeatMs ?? 5000);
    // `end` may run before `watch` is assigned only if the store reported an error synchronously.
    const watch: Watch | undefined = store.watch({
      prefix: q.prefix,
      ...(q.from !== undefined && { fromRevision: q.from }),
      onEvents: (events: readonly WatchEvent[], revision: number) => write({ revision, events }),
      onError: (err) => {
        write({ error: { code: err.code, message: err.message, compactRevision: err.compactRevision } });
        end();
      },
    });
    // Tell the client where it starts, so that it can resume from there after a break.
    if (!ended)
      raw.write(
        `${JSON.stringify({ start: watch.startRevision, ...(identity && { clusterId: identity.clusterId, memberId: identity.memberId }) })}\n`,
      );
    request.raw.on('close', end);
    return reply;
  });
}
