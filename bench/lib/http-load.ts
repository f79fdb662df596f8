// A small HTTP load generator for benchmarks: N requests issued at once, each on its own
// connection (as N agents would), timed individually. With TLS files every connection does a full
// handshake with the client certificate (no session reuse: N agents are N processes).
import http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import type { TlsFiles } from '../../src/pki/index.js';

function agentFor(tls: TlsFiles | undefined, keepAlive: boolean, maxSockets: number): http.Agent {
  return tls
    ? new https.Agent({
        keepAlive,
        maxSockets,
        // One context, as each agent has its own; parsing PEM per connection is the client's cost.
        secureContext: createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key }),
        maxCachedSessions: 0,
      })
    : new http.Agent({ keepAlive, maxSockets });
}

export interface LoadResult {
  readonly totalMs: number;
  readonly latenciesMs: number[];
  readonly failures: number;
  readonly statuses: Map<number, number>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function request(
  agent: http.Agent,
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(
      url,
      {
        method,
        agent,
        headers: body
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends every body at once as a POST to `url`; one connection per request. */
export async function concurrentPosts(
  url: string,
  bodies: readonly string[],
  tls?: TlsFiles,
): Promise<LoadResult> {
  const agent = agentFor(tls, false, Infinity);
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    bodies.map(async (body) => {
      const t0 = performance.now();
      try {
        const res = await request(agent, url, 'POST', body);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 200) failures++;
      } catch {
        failures++;
      }
      latencies.push(performance.now() - t0);
    }),
  );
  const totalMs = performance.now() - start;
  agent.destroy();
  return { totalMs, latenciesMs: latencies.sort((a, b) => a - b), failures, statuses };
}

/** Median time of `runs` sequential GETs on one kept-alive connection; also returns the body size. */
export async function timedGets(
  url: string,
  runs: number,
  tls?: TlsFiles,
): Promise<{ medianMs: number; bytes: number }> {
  const agent = agentFor(tls, true, 1);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const res = await request(agent, url, 'GET');
    times.push(performance.now() - t0);
    bytes = Buffer.byteLength(res.body);
  }
  agent.destroy();
  return {
    medianMs: percentile(
      times.sort((a, b) => a - b),
      50,
    ),
    bytes,
  };
}
