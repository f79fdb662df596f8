// Requests and connections per second through a VIP against the same backends directly, same run
// (wrk). A node namespace routes between a client bridge and a backend bridge and holds the L4LB
// table (programmed by the agent's reconciler); three backends (Node HTTP servers) sit behind the
// VIP. Both paths are routed by the node, so the difference is the VIP lookup and DNAT. Three wrk
// processes run at once, one per backend address (direct) or all on the VIP; runs alternate
// which side goes first, and each VIP run is compared with its neighbouring direct run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { run } from '../src/kernel/raw.js';
import { L4lbReconciler, parseVipTable, type VipTable } from '../src/l4lb/index.js';
import { median } from './lib/l4lb.js';
import { round } from './lib/process.js';

const SECONDS = 2;
const RUNS = 9;
const CONNS = 16;
const tag = randomBytes(2).toString('hex');
const NODE = `dcl4w${tag}n`;
// Two clients on the same bridge: one for the direct runs, one for the VIP runs, so that a direct
// flow and a VIP flow never share a conntrack reply tuple (client:port ↔ backend:8080) while the
// first is in TIME_WAIT; the node's conntrack table is also flushed before every run.
const CLIENT_DIRECT = `dcl4w${tag}d`;
const CLIENT_VIP = `dcl4w${tag}v`;
// A third client for the one-VIP-per-backend runs: a client reaching one backend through two
// different addresses (two VIPs, or a VIP and directly) gets its SYNs dropped by the backend's
// TIME_WAIT sockets (TCP timestamps are offset per destination address, so PAWS sees them as old).
const CLIENT_PINNED = `dcl4w${tag}p`;
const BACKENDS = [1, 2, 3].map((i) => ({ ns: `dcl4w${tag}b${i}`, ip: `10.92.0.${10 + i}` }));
const VIP = '11.0.0.5';
const namespaces = [NODE, CLIENT_DIRECT, CLIENT_VIP, CLIENT_PINNED, ...BACKENDS.map((b) => b.ns)];
const servers: ReturnType<typeof spawn>[] = [];

const SERVER = String.raw`
const http = require('http');
const s = http.createServer((q, r) => { r.writeHead(200, { 'content-type': 'text/plain' }); r.end('ok\n'); });
s.keepAliveTimeout = 30000;
s.listen(8080, '0.0.0.0', () => console.log('ready'));
`;

const ip = (ns: string, args: string[]) => run('ip', ['-n', ns, ...args]);

async function attach(ns: string, bridge: string, addr: string, gw: string, n: string): Promise<void> {
  await ip(NODE, ['link', 'add', `v${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await ip(NODE, ['link', 'set', `v${n}`, 'master', bridge, 'up']);
  await ip(ns, ['addr', 'add', addr, 'dev', 'eth0']);
  await ip(ns, ['link', 'set', 'eth0', 'up']);
  await ip(ns, ['route', 'add', 'default', 'via', gw]);
}

async function wrk(
  client: string,
  targets: string[],
  close: boolean,
): Promise<{ rps: number; errors: number }> {
  await run('conntrack', ['-F'], { netns: NODE }).catch(() => {});
  const runs = await Promise.all(
    targets.map((t) =>
      run(
        'wrk',
        ['-t1', `-c${CONNS}`, `-d${SECONDS}s`, ...(close ? ['-H', 'Connection: close'] : []), `http://${t}/`],
        { netns: client, timeoutMs: (SECONDS + 30) * 1000 },
      ),
    ),
  );
  let rps = 0;
  let errors = 0;
  for (const { stdout } of runs) {
    rps += Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
    const e = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    if (e) errors += Number(e[1]) + Number(e[3]) + Number(e[4]); // read errors = peer closes (close mode)
    errors += Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  }
  return { rps, errors };
}

try {
  for (const ns of namespaces) {
    await run('ip', ['netns', 'add', ns]);
    await ip(ns, ['link', 'set', 'lo', 'up']);
  }
  await run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'], { netns: NODE });
  for (const [br, addr] of [
    ['br0', '10.91.0.1/24'],
    ['br1', '10.92.0.1/24'],
  ] as const) {
    await ip(NODE, ['link', 'add', br, 'type', 'bridge']);
    await ip(NODE, ['addr', 'add', addr, 'dev', br]);
    await ip(NODE, ['link', 'set', br, 'up']);
  }
  await attach(CLIENT_DIRECT, 'br0', '10.91.0.10/24', '10.91.0.1', 'd');
  await attach(CLIENT_VIP, 'br0', '10.91.0.20/24', '10.91.0.1', 'v');
  await attach(CLIENT_PINNED, 'br0', '10.91.0.30/24', '10.91.0.1', 'p');
  for (const [i, b] of BACKENDS.entries()) {
    await attach(b.ns, 'br1', `${b.ip}/24`, '10.92.0.1', `b${i}`);
    const p = spawn('ip', ['netns', 'exec', b.ns, process.execPath, '-e', SERVER], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    servers.push(p);
    await new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
  }
  const table: VipTable = {
    vips: [
      {
        protocol: 'tcp',
        ip: VIP,
        port: 80,
        family: 4,
        name: { label: '/bench', framework: 'marathon' },
        backends: BACKENDS.map((b) => ({ ip: b.ip, port: 8080, weight: 2, agent: '10.91.0.99', task: b.ns })),
      },
      // One VIP per backend: the same load spread as the direct runs, so only the DNAT differs.
      ...BACKENDS.map((b, i) => ({
        protocol: 'tcp' as const,
        ip: `11.0.0.${6 + i}`,
        port: 80,
        family: 4 as const,
        backends: [{ ip: b.ip, port: 8080, weight: 2, agent: '10.91.0.99', task: b.ns }],
      })),
    ],
  };
  const r = new L4lbReconciler({
    selfIp: '10.91.0.1',
    log: pino({ level: 'silent' }),
    kernel: { netns: NODE },
  });
  await r.request(parseVipTable(table));
  if (r.error) throw new Error(r.error);
  const direct = BACKENDS.map((b) => `${b.ip}:8080`);
  const viaVip = BACKENDS.map(() => `${VIP}:80`);
  const viaPinned = BACKENDS.map((_, i) => `11.0.0.${6 + i}:80`);
  const res = {
    rps: { vip: [] as number[], direct: [] as number[], pinned: [] as number[] },
    cps: { vip: [] as number[], direct: [] as number[], pinned: [] as number[] },
  };
  let errors = 0;
  for (let i = 0; i < RUNS; i++) {
    for (const [mode, close] of [
      ['rps', false],
      ['cps', true],
    ] as const) {
      // Rotate which goes first, so that drift on the shared machine falls on all alike.
      const kinds = ['direct', 'vip', 'pinned'] as const;
      const got: Record<(typeof kinds)[number], { rps: number; errors: number }> = {} as never;
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(i + k) % kinds.length]!;
        got[kind] =
          kind === 'direct'
            ? await wrk(CLIENT_DIRECT, direct, close)
            : kind === 'vip'
              ? await wrk(CLIENT_VIP, viaVip, close)
              : await wrk(CLIENT_PINNED, viaPinned, close);
      }
      const [d, v, pn] = [got.direct, got.vip, got.pinned];
      res[mode].direct.push(d.rps);
      res[mode].vip.push(v.rps);
      res[mode].pinned.push(pn.rps);
      errors += pn.errors;
      errors += d.errors + v.errors;
    }
  }
  // Each VIP run is compared with the direct run next to it in time (the machine is shared and
  // its load drifts); the median of those pair ratios is the figure.
  const pairs = (m: 'rps' | 'cps', side: 'vip' | 'pinned' = 'vip'): number[] =>
    res[m][side].map((v, i) => v / res[m].direct[i]!);
  const rps = median(pairs('rps'));
  const cps = median(pairs('cps'));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'l4lb-wrk',
      seconds_per_run: SECONDS,
      runs: RUNS,
      connections: CONNS * BACKENDS.length,
      vip_rps: round(median(res.rps.vip), 0),
      vip_cps: round(median(res.cps.vip), 0),
      vip_runs: { rps: res.rps.vip.map((x) => round(x, 0)), cps: res.cps.vip.map((x) => round(x, 0)) },
      peer: 'the same 3 backends directly (routed by the same node, no VIP)',
      peer_rps: round(median(res.rps.direct), 0),
      peer_cps: round(median(res.cps.direct), 0),
      peer_runs: { rps: res.rps.direct.map((x) => round(x, 0)), cps: res.cps.direct.map((x) => round(x, 0)) },
      ratio: { rps: round(rps, 3), cps: round(cps, 3) },
      pair_ratios: { rps: pairs('rps').map((x) => round(x, 2)), cps: pairs('cps').map((x) => round(x, 2)) },
      one_vip_per_backend: {
        note: 'same load spread as direct (each wrk on its own single-backend VIP): the DNAT alone',
        rps: round(median(res.rps.pinned), 0),
        cps: round(median(res.cps.pinned), 0),
        ratio: {
          rps: round(median(pairs('rps', 'pinned')), 3),
          cps: round(median(pairs('cps', 'pinned')), 3),
        },
      },
      errors,
      goal: { ratio: 0.95 },
      met: rps >= 0.95 && cps >= 0.95 && errors === 0,
    })}\n`,
  );
} finally {
  for (const p of servers) p.kill('SIGKILL');
  for (const ns of namespaces) await run('ip', ['netns', 'del', ns]).catch(() => {});
}
