// Serves a Store over HTTP so that agents reach the master's embedded store: plain JSON calls,
// and watches as a stream of JSON lines that a client resumes from its last revision.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { StoreError, type Store, type Watch, type WatchEvent } from './types.js';

export const STORE_PREFIX = '/store/v1';

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

export interface StoreServerOptions {
  /** Interval of the heartbeat line on idle watches (default 5 s), so clients notice dead links. */
  readonly heartbeatMs?: number;
}

export function registerStoreRoutes(app: FastifyInstance, store: Store, opts: StoreServerOptions = {}): void {
  const call = <B>(path: string, schema: z.ZodType<B>, fn: (body: B) => Promise<unknown>): void => {
    app.post(`${STORE_PREFIX}${path}`, async (request, reply) => {
      const body = parse(schema, request.body, reply);
      if (body === undefined) return reply;
      try {
        return reply.send(await fn(body));
      } catch (err) {
        return fail(reply, err);
      }
    });
  };
  call('/get', keyBody, async (b) => ({ kv: (await store.get(b.key)) ?? null }));
  call('/range', prefixBody, (b) => store.range(b.prefix));
  call('/txn', txnBody, (b) => store.txn(b));
  call('/lease/grant', ttlBody, async (b) => ({ id: await store.grantLease(b.ttl) }));
  call('/lease/keepalive', leaseBody, async (b) => ({ ttl: await store.keepAlive(b.id) }));
  call('/lease/revoke', leaseBody, async (b) => {
    await store.revokeLease(b.id);
    return {};
  });

  app.get(`${STORE_PREFIX}/watch`, (request, reply) => {
    const q = parse(watchQuery, request.query, reply);
    if (q === undefined) return reply;
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
    raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
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
    if (!ended) raw.write(`${JSON.stringify({ start: watch.startRevision })}\n`);
    request.raw.on('close', end);
    return reply;
  });
}
