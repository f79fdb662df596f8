// HTTP API of the overlay master (specs/overlay.md §1.3, §2.8): DC/OS paths and JSON, plus the
// pool usage view and Prometheus metrics. Bodies are validated at the edge; every rejection names
// the field.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseAddress } from '../../net/index.js';
import { StoreError } from '../../store/index.js';
import { OVERLAY_STATUSES } from '../types.js';
import { AllocationError, NotLeaderError, type OverlayMaster } from './master.js';
import type { MasterMetrics } from './metrics.js';
import { poolUsage } from './usage.js';
import { POST_ONLY_URLS } from './access.js';

const ipv4 = z
  .string()
  .refine((s) => parseAddress(s)?.family === 4, { message: 'must be an IPv4 address (a.b.c.d)' });

const registerBody = z
  .object({
    ip: ipv4,
    mesos_bridge: z.boolean().default(true),
    docker_bridge: z.boolean().default(true),
    allocate_subnet: z.boolean().default(true),
  })
  .strict();

const deleteBody = z.object({ agents: z.array(ipv4) }).strict();

const ackBody = z
  .object({
    ip: ipv4,
    overlays: z.array(z.object({ name: z.string(), status: z.enum(OVERLAY_STATUSES) }).passthrough()),
  })
  .strict();

function bodyError(reply: FastifyReply, issues: readonly z.core.$ZodIssue[]): FastifyReply {
  const message = issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
  return reply.code(400).send({ error: message, code: 'BAD_REQUEST' });
}

/** JSON with stout's bytes, or JSONP when `?jsonp=cb` is given (as libprocess does). */
function sendJson(request: FastifyRequest, reply: FastifyReply, json: string): FastifyReply {
  const cb = (request.query as { jsonp?: string }).jsonp;
  if (cb !== undefined) {
    if (!/^[A-Za-z_$][\w$.]*$/.test(cb))
      return reply.code(400).send({ error: 'jsonp: not a valid callback name', code: 'BAD_REQUEST' });
    return reply.type('text/javascript').send(`${cb}(${json});`);
  }
  return reply.type('application/json').send(json);
}

/** Which master serves a request: this process's while it leads (always, without HA), else
 *  the request is forwarded to the leader. */
export interface MasterRef {
  /** May wait briefly (a newly elected leader recovering its state). */
  current(): OverlayMaster | undefined | Promise<OverlayMaster | undefined>;
  forward?(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>;
  /** Set once the store failed for good: /health says so until the process exits. */
  failure?(): Error | undefined;
}

export function registerMasterRoutes(
  app: FastifyInstance,
  masterOrRef: OverlayMaster | MasterRef,
  metrics?: MasterMetrics,
): void {
  const ref: MasterRef = 'current' in masterOrRef ? masterOrRef : { current: () => masterOrRef };
  const notLeading = (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> | FastifyReply =>
    ref.forward && request.headers['x-dcnet-forwarded'] === undefined
      ? ref.forward(request, reply)
      : reply
          .code(503)
          .header('retry-after', '1')
          .send({ error: 'no leading master yet; retry', code: 'NO_LEADER' });
  /** Runs `fn` on the leading master, forwarding when this one does not lead (or stops leading). */
  const lead =
    (fn: (master: OverlayMaster, request: FastifyRequest, reply: FastifyReply) => unknown) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const master = await ref.current();
      if (!master) return notLeading(request, reply);
      try {
        return await fn(master, request, reply);
      } catch (err) {
        if (err instanceof NotLeaderError) return notLeading(request, reply);
        throw err;
      }
    };

  app.get(
    '/overlay-master/state',
    lead((master, request, reply) => sendJson(request, reply, master.stateJson())),
  );

  app.post(
    '/overlay-master/agents',
    lead(async (master, request, reply) => {
      const body = registerBody.safeParse(request.body ?? {});
      if (!body.success) return bodyError(reply, body.error.issues);
      const b = body.data;
      try {
        const { json } = await master.register({
          ip: b.ip,
          mesosBridge: b.mesos_bridge,
          dockerBridge: b.docker_bridge,
          allocateSubnet: b.allocate_subnet,
        });
        return reply.type('application/json').send(json);
      } catch (err) {
        if (err instanceof AllocationError) {
          return reply.code(503).header('retry-after', '60').send({ error: err.message, code: err.code });
        }
        throw err;
      }
    }),
  );

  app.post(
    '/overlay-master/agents/delete',
    lead(async (master, request, reply) => {
      const body = deleteBody.safeParse(request.body ?? {});
      if (!body.success) return bodyError(reply, body.error.issues);
      await master.deleteAgents(body.data.agents);
      return reply.type('application/json').send(master.stateJson());
    }),
  );

  app.post(
    '/overlay-master/agents/ack',
    lead((master, request, reply) => {
      const body = ackBody.safeParse(request.body ?? {});
      if (!body.success) return bodyError(reply, body.error.issues);
      if (!master.acknowledge(body.data.ip, body.data.overlays)) {
        return reply
          .code(404)
          .send({ error: `agent ${body.data.ip} is not registered`, code: 'UNKNOWN_AGENT' });
      }
      return reply.code(204).send();
    }),
  );

  app.get(
    '/overlay-master/agents/:ip',
    lead((master, request, reply) => {
      const { ip } = request.params as { ip: string };
      const found = master.agentInfo(ip);
      if (!found)
        return reply.code(404).send({ error: `agent ${ip} is not registered`, code: 'UNKNOWN_AGENT' });
      return sendJson(request, reply, found.json);
    }),
  );

  // As libprocess does: other methods on the POST endpoints get 405 with Allow: POST.
  for (const url of POST_ONLY_URLS) {
    app.route({
      method: ['GET', 'PUT', 'DELETE', 'PATCH'],
      url,
      handler: (request, reply) =>
        reply
          .code(405)
          .header('allow', 'POST')
          .send({
            error: `${request.method} is not allowed on ${url}; use POST`,
            code: 'METHOD_NOT_ALLOWED',
          }),
    });
  }

  app.get(
    '/overlay-master/pools',
    lead((master, _request, reply) => reply.send(poolUsage(master))),
  );

  app.get('/health', async (_request, reply) => {
    const failure = ref.failure?.();
    if (failure) return reply.code(503).send({ status: 'failed', error: failure.message });
    const master = await ref.current();
    return reply.send({
      status: 'ok',
      leader: master !== undefined,
      ...(master && { agents: master.agentCount }),
    });
  });

  if (metrics) {
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    // Malformed JSON and wrong content types come from fastify's parser with a 4xx status.
    if (err.statusCode && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: err.message, code: err.code ?? 'BAD_REQUEST' });
    }
    request.log.error({ err }, 'request failed');
    const unavailable = err instanceof StoreError;
    return reply.code(unavailable ? 503 : 500).send({
      error: unavailable ? `store unavailable: ${err.message}` : 'internal error',
      code: unavailable ? 'STORE_UNAVAILABLE' : 'INTERNAL',
    });
  });
}
