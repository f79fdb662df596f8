// dcos-dns's HTTP API (specs/dcos-net.md §1.12), answered from the zones this node serves (no
// forwarding): `/v1/version`, `/v1/hosts/:host`, `/v1/services/:service`, `/v1/records`; the
// endpoints dcos-dns never implemented answer 501 as there.
import type { FastifyInstance } from 'fastify';
import type { ZoneRecords } from './zones.js';

export interface ZoneView {
  all(): ReadonlyMap<string, ZoneRecords>;
}

const fqdn = (name: string): string => {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
};

function lookup(view: ZoneView, pick: (z: ZoneRecords) => Map<string, Set<string>>, name: string): string[] {
  const out: string[] = [];
  for (const z of view.all().values()) for (const v of pick(z).get(name) ?? []) out.push(v);
  return out;
}

export function registerDcosDnsRoutes(app: FastifyInstance, view: ZoneView, version: string): void {
  app.get('/v1/version', async () => ({ Service: 'dcos-dns', Version: version }));
  app.get('/v1/config', async (_req, reply) =>
    reply.code(501).send({ error: 'not implemented (as in dcos-dns)' }),
  );
  app.get('/v1/enumerate', async (_req, reply) =>
    reply.code(501).send({ error: 'not implemented (as in dcos-dns)' }),
  );
  app.get<{ Params: { host: string } }>('/v1/hosts/:host', async (req) => {
    const name = fqdn(req.params.host);
    return lookup(view, (z) => z.a, name).map((ip) => ({ host: name, ip }));
  });
  app.get<{ Params: { service: string } }>('/v1/services/:service', async (req) => {
    const name = fqdn(req.params.service);
    return lookup(view, (z) => z.srv, name).map((v) => {
      const i = v.lastIndexOf(':');
      const host = v.slice(0, i);
      const ip = lookup(view, (z) => z.a, host)[0];
      return { service: name, host, port: Number(v.slice(i + 1)), ...(ip !== undefined && { ip }) };
    });
  });
  app.get('/v1/records', async () => {
    const out: Array<{ name: string; host: string; rtype: string }> = [];
    for (const z of view.all().values()) {
      for (const [rtype, map] of [
        ['A', z.a],
        ['AAAA', z.aaaa],
        ['SRV', z.srv],
      ] as const) {
        for (const [name, values] of map) for (const host of values) out.push({ name, host, rtype });
      }
    }
    return out;
  });
}
