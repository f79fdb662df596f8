// The emulator's HTTP APIs: Mesos (`/master/state`) and Marathon (`/v2/apps`, `/v2/tasks`,
// `/v2/events`), each on its own port as on a DC/OS master.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AppValidationError } from './apps.js';
import type { Emulator } from './emulator.js';
import { marathonApp, marathonTask, mesosState } from './render.js';
import { installEmulatorAuth, type AuthCounters, type EmulatorAuth } from './auth.js';

/** When set, both APIs require credentials (DC/OS strict mode); counters are shared. */
export interface ApiAuth {
  readonly policy: EmulatorAuth;
  readonly counters: AuthCounters;
}

function newApp(log: Logger, auth?: ApiAuth): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  if (auth) installEmulatorAuth(app, auth.policy, auth.counters);
  return app;
}

export function mesosApi(
  emu: Emulator,
  log: Logger,
  masterPort: number,
  marathonPort: number,
  auth?: ApiAuth,
): FastifyInstance {
  const app = newApp(log, auth);
  const state = () => mesosState(emu, masterPort, marathonPort);
  app.get('/master/state', async () => state());
  app.get('/master/state.json', async () => state());
  app.get('/state', async () => state());
  app.get('/health', async () => ({ status: 'ok' }));
  return app;
}

const appIdOf = (path: string): string => `/${path.replace(/^\/+|\/+$/g, '')}`;

export function marathonApi(emu: Emulator, log: Logger, auth?: ApiAuth): FastifyInstance {
  const app = newApp(log, auth);
  const embedTasks = (q: unknown): boolean => {
    const e = (q as { embed?: string | string[] }).embed;
    return (Array.isArray(e) ? e : e ? [e] : []).some((x) => x === 'apps.tasks' || x === 'app.tasks');
  };
  const notFound = (id: string) => ({ message: `App '${id}' does not exist` });
  const fail = (err: unknown, reply: import('fastify').FastifyReply) => {
    if (err instanceof AppValidationError) return reply.code(422).send(err.body());
    const status = (err as { status?: number }).status;
    if (status) return reply.code(status).send({ message: (err as Error).message });
    throw err;
  };
  const deployment = () => ({ version: new Date().toISOString(), deploymentId: crypto.randomUUID() });

  app.get('/ping', async (_req, reply) => reply.type('text/plain').send('pong'));
  app.get('/v2/info', async () => ({
    name: 'marathon',
    version: '1.11.0-emulated',
    frameworkId: emu.frameworkId,
    leader: `${emu.topology.master.ip}:8080`,
  }));
  app.get('/v2/apps', async (req) => ({
    apps: [...emu.apps.values()].map((a) => marathonApp(emu, a, embedTasks(req.query))),
  }));
  app.post('/v2/apps', async (req, reply) => {
    try {
      const created = await emu.createApp(req.body, req.ip);
      return reply.code(201).send(marathonApp(emu, created, false));
    } catch (err) {
      return fail(err, reply);
    }
  });
  app.get('/v2/apps/*', async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (path.endsWith('/tasks')) {
      const id = appIdOf(path.slice(0, -'/tasks'.length));
      const a = emu.apps.get(id);
      if (!a) return reply.code(404).send(notFound(id));
      return { tasks: emu.tasksOf(id).map((t) => marathonTask(emu, t, a)) };
    }
    const a = emu.apps.get(appIdOf(path));
    if (!a) return reply.code(404).send(notFound(appIdOf(path)));
    return { app: marathonApp(emu, a, true) };
  });
  app.put('/v2/apps/*', async (req, reply) => {
    try {
      const { app: a, created } = await emu.updateApp(
        appIdOf((req.params as { '*': string })['*']),
        req.body ?? {},
        req.ip,
      );
      return created ? reply.code(201).send(marathonApp(emu, a, false)) : reply.send(deployment());
    } catch (err) {
      return fail(err, reply);
    }
  });
  app.delete('/v2/apps/*', async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    const m = /^(.*)\/tasks\/([^/]+)$/.exec(path);
    if (m) {
      const scale = (req.query as { scale?: string }).scale === 'true';
      const t = await emu.killTask(m[2]!, scale);
      if (!t || t.appId !== appIdOf(m[1]!))
        return reply.code(404).send({ message: `Task '${m[2]}' does not exist` });
      return scale ? deployment() : { task: marathonTask(emu, t, emu.apps.get(t.appId)) };
    }
    const id = appIdOf(path);
    if (!(await emu.deleteApp(id))) return reply.code(404).send(notFound(id));
    return deployment();
  });
  app.get('/v2/tasks', async () => ({
    tasks: [...emu.tasks.values()].map((t) => marathonTask(emu, t, emu.apps.get(t.appId))),
  }));
  app.get('/v2/events', (req, reply) => {
    const types = (req.query as { event_type?: string | string[] }).event_type;
    const wanted = types === undefined ? undefined : new Set(Array.isArray(types) ? types : [types]);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (type: string, data: unknown): void => {
      if (!wanted || wanted.has(type)) raw.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('event_stream_attached', {
      remoteAddress: req.ip,
      eventType: 'event_stream_attached',
      timestamp: new Date().toISOString(),
    });
    const unsubscribe = emu.subscribe((e) => send(e.eventType, e));
    const heartbeat = setInterval(() => raw.write('\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
  return app;
}
