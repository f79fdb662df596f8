// Steady HTTP load through the layer-7 load balancer (or straight to a backend) while the cluster
// changes underneath: a Node program run inside a namespace with `node -e L7_LOAD '<json>'`. It
// keeps `concurrency` keep-alive clients busy until SIGTERM, then prints one JSON line: requests,
// failures (non-200 or errors) with their kinds, and how many answers each task gave.
import type { Demo } from '../../src/sim/index.js';
import type { Spawned } from '../../src/sim/index.js';

export const L7_LOAD = String.raw`
const http = require('http');
const cfg = JSON.parse(process.argv[1]);
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });
let ok = 0, failed = 0, stop = false;
const kinds = {}, tasks = {};
const fail = (k) => { failed++; kinds[k] = (kinds[k] || 0) + 1; };
function one() {
  return new Promise((resolve) => {
    const req = http.get(cfg.url, { agent, headers: cfg.host ? { host: cfg.host } : {}, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        if (res.statusCode === 200) { ok++; const id = body.split('\n')[0]; tasks[id] = (tasks[id] || 0) + 1; }
        else fail('http ' + res.statusCode);
        resolve();
      });
      res.on('error', (e) => { fail(e.code || e.message); resolve(); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { fail(e.code || e.message); resolve(); });
  });
}
async function worker() { while (!stop) await one(); }
const workers = Array.from({ length: cfg.concurrency }, worker);
console.log('ready');
const started = Date.now();
process.on('SIGTERM', async () => {
  stop = true;
  await Promise.all(workers);
  console.log(JSON.stringify({ requests: ok + failed, ok, failed, kinds, tasks, seconds: (Date.now() - started) / 1000 }));
  process.exit(0);
});
`;

export interface LoadSummary {
  requests: number;
  ok: number;
  failed: number;
  kinds: Record<string, number>;
  tasks: Record<string, number>;
  seconds: number;
}

/** Starts the load in `netns`; `finish()` stops it and returns the counts. */
export async function startLoad(
  demo: Demo,
  netns: string,
  target: { url: string; host?: string; concurrency?: number },
): Promise<{ finish(): Promise<LoadSummary>; proc: Spawned }> {
  const proc = demo.cluster.tb.spawn(netns, process.execPath, [
    '-e',
    L7_LOAD,
    JSON.stringify({ concurrency: 8, ...target }),
  ]);
  const deadline = Date.now() + 10_000;
  while (!proc.output().includes('ready')) {
    if (Date.now() > deadline || proc.proc.exitCode !== null)
      throw new Error(`load did not start: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    async finish() {
      proc.proc.kill('SIGTERM');
      await proc.exited;
      const line = proc
        .output()
        .split('\n')
        .find((l) => l.startsWith('{'));
      if (!line) throw new Error(`load printed no summary: ${proc.output().slice(-500)}`);
      return JSON.parse(line) as LoadSummary;
    },
  };
}

interface AppView {
  instances: number;
  tasksRunning: number;
  tasks: { id: string; state: string }[];
}

/** Scales the demo's /web app and waits until Marathon runs exactly `n` tasks and the LB routes to all of them. */
export async function scaleWeb(demo: Demo, n: number, lbStatus: () => Promise<string[]>): Promise<void> {
  const c = demo.cluster;
  await c.tb.exec(c.master.host.netns, 'curl', [
    '-s',
    '-m',
    '5',
    '-X',
    'PUT',
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify({ instances: n }),
    `${demo.marathonUrl}/v2/apps/web`,
  ]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { app } = await demo.marathon<{ app: AppView }>('/v2/apps/web');
    const running = app.tasks.filter((t) => t.state === 'TASK_RUNNING');
    if (app.tasks.length === n && running.length === n) {
      const servers = await lbStatus();
      if (servers.length === n) return;
    }
    if (Date.now() > deadline)
      throw new Error(`/web did not settle at ${n} tasks: ${JSON.stringify(app.tasks.map((t) => t.state))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
