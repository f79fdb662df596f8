// The controller's HTTP API: the Marathon-LB endpoints HAProxy served through Lua
// (specs/marathon-lb.md §1.11) and Prometheus metrics. HAProxy's :9090 `listen stats` forwards
// `/_haproxy_get*`, `/_mlb_signal/*` and `/_dcnet/*` here, so the Marathon-LB URLs keep working.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { LbController } from './controller.js';
import type { Haproxy } from './haproxy.js';
import { redactConfig } from './redact.js';

/** Who may call `/_mlb_signal/*` (a resync or reload on demand): a bearer token, anyone (the
 *  Marathon-LB behaviour, opt-in), or nobody over HTTP — the default, since :9090 is reachable from
 *  every task and a loop of reloads is a cheap denial of service. SIGHUP/SIGUSR1 always work. */
export type SignalAccess = { readonly token: string } | 'open' | 'closed';

export function lbApi(
  ctl: LbController,
  haproxy: Haproxy,
  log: Logger,
  signals: SignalAccess = 'closed',
): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  const text = (reply: import('fastify').FastifyReply, body: string) => reply.type('text/plain').send(body);
  app.get('/_haproxy_health_check', async (_req, reply) =>
    haproxy.running ? text(reply, 'OK\n') : reply.code(503).type('text/plain').send('haproxy not running\n'),
  );
  app.get('/_haproxy_getconfig', async (_req, reply) => text(reply, redactConfig(ctl.configText)));
  app.get('/_haproxy_getvhostmap', async (_req, reply) => text(reply, ctl.maps.domain));
  app.get('/_haproxy_getappmap', async (_req, reply) => text(reply, ctl.maps.app));
  app.get('/_haproxy_getpids', async (_req, reply) => text(reply, (await haproxy.pids()).join(' ')));
  const expected = typeof signals === 'object' ? Buffer.from(`Bearer ${signals.token}`) : undefined;
  const allowed = (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply): boolean => {
    if (signals === 'open') return true;
    if (signals === 'closed') {
      void reply
        .code(403)
        .type('text/plain')
        .send(
          '403 Forbidden: signals over HTTP are off (dcnet lb --admin-token-file FILE, or --open-signals)\n',
        );
      return false;
    }
    const given = Buffer.from(req.headers.authorization ?? '');
    // Constant time: the comparison must not tell an attacker how much of a guess was right.
    if (given.length === expected!.length && timingSafeEqual(given, expected!)) return true;
    void reply
      .code(401)
      .type('text/plain')
      .send('401 Unauthorized: Authorization: Bearer <admin token> required\n');
    return false;
  };
  const hup = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
    if (!allowed(req, reply)) return reply;
    ctl.requestReset('/_mlb_signal/hup');
    return text(reply, 'Sent SIGHUP signal to marathon-lb\n');
  };
  const usr1 = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
    if (!allowed(req, reply)) return reply;
    ctl.requestReload();
    return text(reply, 'Sent SIGUSR1 signal to marathon-lb\n');
  };
  app.get('/_mlb_signal/hup', hup);
  app.post('/_mlb_signal/hup', hup);
  app.get('/_mlb_signal/usr1', usr1);
  app.post('/_mlb_signal/usr1', usr1);
  const metrics = async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.type(ctl.metrics.registry.contentType).send(await ctl.metrics.registry.metrics());
  app.get('/metrics', metrics);
  app.get('/_dcnet/metrics', metrics);
  app.get('/_dcnet/status', async () => ({
    ...ctl.status,
    haproxy: { running: haproxy.running, pids: await haproxy.pids() },
  }));
  return app;
}
