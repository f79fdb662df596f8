// cli-start: how long `dcnet --version` and `dcnet status --help` take to start and exit, against
// `node -e 0` (the floor: node itself). Runs alternate (node, version, status, node, …) so that load
// on a shared machine falls on all three alike; medians of RUNS each. Goal: within 1.5× of node.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const RUNS = Number(process.env.CLI_START_RUNS ?? 15);
const GOAL = 1.5;
const bin = join(import.meta.dirname, '..', '..', 'bin', 'dcnet');

function timeMs(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (n: number, d = 1): number => Number(n.toFixed(d));

const node: number[] = [];
const version: number[] = [];
const statusHelp: number[] = [];
timeMs([bin, '--version']); // warm the page cache once; not counted
for (let i = 0; i < RUNS; i++) {
  node.push(timeMs(['-e', '0']));
  version.push(timeMs([bin, '--version']));
  statusHelp.push(timeMs([bin, 'status', '--help']));
}
const peer = median(node);
const v = median(version);
const s = median(statusHelp);
const ratio = Math.max(v, s) / peer;
process.stdout.write(
  `${JSON.stringify({
    bench: 'cli-start',
    runs: RUNS,
    version_ms: round(v),
    status_help_ms: round(s),
    peer: 'node -e 0',
    peer_ms: round(peer),
    ratio_version: round(v / peer, 2),
    ratio_status_help: round(s / peer, 2),
    ratio: round(ratio, 2),
    goal: GOAL,
    met: ratio <= GOAL,
  })}\n`,
);
