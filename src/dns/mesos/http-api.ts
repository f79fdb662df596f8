// The Mesos-DNS HTTP API (specs/mesos-dns.md §4): /v1/version, /v1/config, /v1/hosts/{host},
// /v1/hosts/{host}/ports, /v1/services/{service}, /v1/enumerate and /v1/axfr, with upstream's
// shapes, status codes (404/405/406/501) and go-restful's pretty-printed bodies. Differences:
// `/v1/config` hides the Mesos credentials secret; record values are canonical IP text.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderConfig, type MesosDnsConfig } from './config.js';
import type { MesosDnsService, MesosDnsSnapshot } from './service.js';
import type { RecordMap } from './records.js';

export interface MesosDnsHttpOptions {
  /** Shown by /v1/version (upstream: the build version, `dev` by default). */
  readonly version?: string;
  /** Install upstream's text 404 for unknown paths (default true; the app must be ours alone). */
  readonly notFound?: boolean;
}

/**
 * Go's `json.MarshalIndent(v, " ", " ")` as go-restful writes it: one-space indent, every line after
 * the first prefixed by one space, HTML characters escaped, no trailing newline.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, 1)
    .replace(/\n/g, '\n ')
    .replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether an Accept header admits application/json (absent or empty admits everything). */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) return false;
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}

/** Lookup key of a name as upstream forms it: `.*` removed, lower case, trailing dot. */
export function normaliseName(name: string): string {
  const n = name.replace(/\.\*/g, '').toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

const first = <T>(set: ReadonlySet<T> | undefined): T | undefined => {
  if (set) for (const v of set) return v;
  return undefined;
};

function sortedRecord(map: RecordMap): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of [...map.keys()].sort()) out[name] = [...map.get(name)!];
  return out;
}

const OTHER_METHODS = ['HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * Fastify's `maxParamLength` the app needs: names run to 253 characters (fastify's default of 100
 * would answer 404 for long names), with room for `.*` wildcards and URL escapes.
 */
export const MAX_PARAM_LENGTH = 1024;

/** Registers the routes on an app created with `maxParamLength: MAX_PARAM_LENGTH`. */
export function registerMesosDnsRoutes(
  app: FastifyInstance,
  service: MesosDnsService,
  config: MesosDnsConfig,
  opts: MesosDnsHttpOptions = {},
): void {
  const json = (reply: FastifyReply, body: unknown, code = 200) =>
    reply.code(code).type('application/json').send(goJson(body));

  const route = (
    path: string,
    handler: (req: FastifyRequest, reply: FastifyReply, snap: MesosDnsSnapshot | undefined) => unknown,
    needsRecords = true,
  ): void => {
    for (const url of [path, `${path}/`]) {
      app.route({
        method: 'GET',
        url,
        exposeHeadRoute: false,
        handler: async (req, reply) => {
          if (!acceptsJson(req.headers.accept))
            return reply.code(406).type('text/plain').send('406: Not Acceptable');
          const snap = service.current();
          if (needsRecords && !snap) return json(reply, { error: 'no Mesos state loaded yet' }, 503);
          return handler(req, reply, snap);
        },
      });
      app.route({
        method: [...OTHER_METHODS],
        url,
        handler: async (_req, reply) => reply.code(405).type('text/plain').send('405: Method Not Allowed'),
      });
    }
  };

  route(
    '/v1/version',
    (_req, reply) =>
      json(reply, {
        Service: 'Mesos-DNS',
        URL: 'https://github.com/mesosphere/mesos-dns',
        Version: opts.version ?? 'dev',
      }),
    false,
  );

  route('/v1/config', (_req, reply, snap) => json(reply, renderConfig(config, snap?.serial ?? 0)), false);

  route('/v1/hosts/:host', (req, reply, snap) => {
    const name = normaliseName((req.params as { host: string }).host);
    const { a, aaaa } = snap!.records;
    const out = [...(a.get(name) ?? []), ...(aaaa.get(name) ?? [])].map((ip) => ({ host: name, ip }));
    return json(reply, out.length > 0 ? out : [{ host: '', ip: '' }]);
  });

  route(
    '/v1/hosts/:host/ports',
    (_req, reply) => reply.code(501).type('text/plain').send('To be implemented...'),
    false,
  );

  route('/v1/services/:service', (req, reply, snap) => {
    const raw = (req.params as { service: string }).service;
    const { a, aaaa, srv } = snap!.records;
    const out: { service: string; host: string; ip: string; port: string }[] = [];
    for (const value of srv.get(normaliseName(raw)) ?? []) {
      const colon = value.lastIndexOf(':');
      const host = value.slice(0, colon);
      const port = value.slice(colon + 1);
      for (const ip of [first(a.get(host)), first(aaaa.get(host))])
        if (ip !== undefined) out.push({ service: raw, host, ip, port });
    }
    return json(reply, out.length > 0 ? out : [{ service: '', host: '', ip: '', port: '' }]);
  });

  if (config.EnumerationOn) {
    route('/v1/enumerate', (_req, reply, snap) => {
      const fws = snap!.enumeration();
      return json(reply, {
        frameworks:
          fws.length === 0
            ? null
            : fws.map((f) => ({
                tasks: f.tasks.map((t) => ({
                  name: t.name,
                  id: t.id,
                  records: t.records.length === 0 ? null : t.records,
                })),
                name: f.name,
              })),
      });
    });

    route('/v1/axfr', (_req, reply, snap) => {
      const { a, aaaa, srv } = snap!.records;
      return json(reply, {
        TTL: config.TTL,
        Serial: snap!.serial,
        RefreshSeconds: config.RefreshSeconds,
        Mname: config.SOAMname,
        Rname: config.SOARname,
        Domain: config.Domain,
        Records: { As: sortedRecord(a), AAAAs: sortedRecord(aaaa), SRVs: sortedRecord(srv) },
      });
    });
  }

  if (opts.notFound ?? true)
    app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain').send('404: Page Not Found'));
}
