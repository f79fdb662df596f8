// Authentication and authorisation of a control-plane Fastify app: an `onRequest` hook that asks
// for a certificate chained to the cluster CA (401 without one) and looks the route up in an
// access table (403 for a role it does not list), and a `preHandler` hook for the rules that
// need the body (an agent acts only as the IP in its certificate). Every refusal is logged with
// the identity and counted in `dcnet_auth_refused_total{reason}`. Routes missing from the table
// are open to masters only, and listed by `uncovered()` so that a test catches them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { describeIdentity, peerIdentity } from './identity.js';
import type { Identity, Role } from './types.js';

export type Access = 'public' | readonly Role[];

export interface RouteRule {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** The route as registered (Fastify pattern, e.g. `/overlay-master/agents/:ip`). */
  readonly url: string;
  readonly allow: Access;
  /** For an agent: the IP the request acts as (read from the parsed body); it must be one of
   *  the certificate's. Undefined when the body has none (the handler answers 400). */
  readonly actsAs?: (request: FastifyRequest) => string | undefined;
}

export type RefusalReason =
  | 'no-certificate'
  | 'untrusted-certificate'
  | 'no-dcnet-identity'
  | 'role'
  | 'no-rule'
  | 'not-own-ip'
  | 'not-own-key'
  | 'reserved-key'
  | 'not-own-lease'
  | 'lease-quota';

export interface AuthGuard {
  /** The caller's verified identity (undefined on public routes without a certificate). */
  identity(request: FastifyRequest): Identity | undefined;
  /** Answers 401/403, logs it with the identity and counts it. */
  refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    status: 401 | 403,
    reason: RefusalReason,
    detail: string,
  ): FastifyReply;
  /** Registered routes (method + url) the table has no rule for. */
  uncovered(): { method: string; url: string }[];
  /** Every route registered after the guard was installed. */
  routes(): { method: string; url: string }[];
}

export interface AuthOptions {
  readonly rules: readonly RouteRule[];
  readonly log: Logger;
  readonly registry?: Registry;
}

const ruleKey = (method: string, url: string): string => `${method === 'HEAD' ? 'GET' : method} ${url}`;

/** At most `burst` log lines per window; the rest are summed into one line. */
function throttledWarn(log: Logger, burst = 20, windowMs = 10_000): (obj: object, msg: string) => void {
  let windowStart = 0;
  let lines = 0;
  let dropped = 0;
  return (obj, msg) => {
    const now = Date.now();
    if (now - windowStart > windowMs) {
      if (dropped > 0) log.warn({ dropped }, 'more control-plane requests refused (log lines dropped)');
      windowStart = now;
      lines = 0;
      dropped = 0;
    }
    if (lines++ < burst) log.warn(obj, msg);
    else dropped++;
  };
}

export function installAuth(app: FastifyInstance, opts: AuthOptions): AuthGuard {
  const rules = new Map(opts.rules.map((r) => [ruleKey(r.method, r.url), r]));
  const registered: { method: string; url: string }[] = [];
  const counter = new Counter({
    name: 'dcnet_auth_refused_total',
    help: 'Control-plane requests refused (401/403), by reason',
    labelNames: ['reason'],
    registers: opts.registry ? [opts.registry] : [],
  });
  const warn = throttledWarn(opts.log);

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      registered.push({ method, url: route.url });
    }
  });

  const identity = (request: FastifyRequest): Identity | undefined => {
    const socket = request.raw.socket as TLSSocket;
    return typeof socket.getPeerX509Certificate === 'function' ? peerIdentity(socket) : undefined;
  };

  const refuse: AuthGuard['refuse'] = (request, reply, status, reason, detail) => {
    counter.inc({ reason });
    const id = identity(request);
    warn(
      {
        status,
        reason,
        method: request.method,
        url: request.url,
        identity: id ? describeIdentity(id) : null,
        remote: request.ip,
        detail,
      },
      'control-plane request refused',
    );
    return reply
      .code(status)
      .send({ error: detail, code: status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', reason });
  };

  const unauthenticated = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const socket = request.raw.socket as TLSSocket;
    const cert =
      typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
    if (!cert)
      return refuse(
        request,
        reply,
        401,
        'no-certificate',
        'a client certificate from the cluster CA is required (see `dcnet pki issue`)',
      );
    if (!socket.authorized)
      return refuse(
        request,
        reply,
        401,
        'untrusted-certificate',
        `the client certificate is not trusted: ${String(socket.authorizationError ?? 'not issued by the cluster CA')}`,
      );
    return refuse(
      request,
      reply,
      403,
      'no-dcnet-identity',
      'the client certificate names no dcnet role (O=dcnet:agent|master|operator)',
    );
  };

  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url;
    const rule = url === undefined ? undefined : rules.get(ruleKey(request.method, url));
    if (rule?.allow === 'public') return;
    const id = identity(request);
    if (!id) return unauthenticated(request, reply);
    if (url === undefined) return; // no such route: 404 for whoever is authenticated
    if (!rule) {
      if (id.role === 'master') return;
      return refuse(request, reply, 403, 'no-rule', `${request.method} ${url} is open to masters only`);
    }
    if (!rule.allow.includes(id.role))
      return refuse(
        request,
        reply,
        403,
        'role',
        `${request.method} ${url} is not allowed for role ${id.role} (allowed: ${rule.allow.join(', ')})`,
      );
  });

  app.addHook('preHandler', async (request, reply) => {
    const url = request.routeOptions.url;
    const rule = url === undefined ? undefined : rules.get(ruleKey(request.method, url));
    if (!rule?.actsAs) return;
    const id = identity(request);
    if (id?.role !== 'agent') return;
    const ip = rule.actsAs(request);
    if (ip !== undefined && !id.ips.includes(ip))
      return refuse(
        request,
        reply,
        403,
        'not-own-ip',
        `agent ${id.name} may act only as ${id.ips.join(', ')}, not as ${ip}`,
      );
  });

  return {
    identity,
    refuse,
    uncovered: () => registered.filter((r) => !rules.has(ruleKey(r.method, r.url))),
    routes: () => [...registered],
  };
}
