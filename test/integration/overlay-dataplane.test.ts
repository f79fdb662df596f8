// The overlay data plane on the real kernel, in a private network namespace: one entry the kernel
// refuses (a peer whose VTEP address is not on this node's VTEP subnet: its routes have no usable
// gateway) is reported with its line, and every other entry of the same run is still programmed,
// the bridge batch after the failing ip batch included. The next run retries it; once the peer is
// gone the failure is too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run } from '../../src/kernel/raw.js';
import {
  DataplaneReconciler,
  deriveDataplane,
  nodeInfoSchema,
  reconcileDataplane,
  type NodeInfo,
  type NodeInfoDoc,
} from '../../src/overlay/index.js';
import { NEEDS_ROOT } from '../helpers/eventually.js';
import { testLogger } from '../helpers/log.js';

const NS = `dcovi${randomBytes(3).toString('hex')}`;
const opts = { netns: NS };
const ns = (cmd: string, args: string[]) => run(cmd, args, opts);

const node = (n: number, vtep = `44.128.0.${n}/20`): NodeInfo =>
  nodeInfoSchema.parse({
    ip: `192.0.2.${n}`,
    vtep: { ip: vtep, mac: `70:b3:d5:80:00:0${n}` },
    overlays: [{ name: 'dcos', overlay_subnet: '9.0.0.0/8', subnet: `9.0.${n}.0/24` }],
  } satisfies NodeInfoDoc);
const local = node(4);
const good = node(2);
const good2 = node(3);
/** Its VTEP address is outside 44.128.0.0/20: `via 10.99.0.9 dev vtep1024` has no usable gateway. */
const odd = node(9, '10.99.0.9/20');

const routes = async (): Promise<string[]> =>
  (
    JSON.parse((await ns('ip', ['-j', 'route', 'show', 'table', 'all', 'proto', '97'])).stdout) as {
      dst: string;
    }[]
  )
    .map((r) => r.dst)
    .sort();
const fdb = async (): Promise<string[]> =>
  (
    JSON.parse((await ns('bridge', ['-j', 'fdb', 'show', 'dev', 'vtep1024'])).stdout) as {
      mac: string;
      dst?: string;
    }[]
  )
    .filter((f) => f.dst !== undefined && f.mac !== '00:00:00:00:00:00')
    .map((f) => `${f.mac} ${f.dst}`)
    .sort();

before(async () => {
  if (NEEDS_ROOT) return;
  await run('ip', ['netns', 'add', NS]);
  await ns('ip', ['link', 'set', 'lo', 'up']);
  await ns('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  await ns('ip', ['link', 'set', 'up0', 'up']);
  await ns('ip', ['link', 'set', 'up1', 'up']);
  await ns('ip', ['addr', 'add', '192.0.2.4/24', 'dev', 'up0']);
});

after(async () => {
  if (NEEDS_ROOT) return;
  await run('ip', ['netns', 'del', NS]).catch(() => {});
});

test(
  'a refused route is reported; every other entry of the run is programmed',
  { skip: NEEDS_ROOT },
  async () => {
    const { desired } = deriveDataplane(local, [good, odd], 1420);
    const result = await reconcileDataplane(desired, opts);
    assert.deepEqual(result.failures.map((f) => f.line).sort(), [
      'route replace 192.0.2.9/32 via 10.99.0.9 dev vtep1024 table 42 proto 97',
      'route replace 9.0.9.0/24 via 10.99.0.9 dev vtep1024 proto 97',
    ]);
    assert.ok(
      result.failures.every((f) => /gateway|unreachable/i.test(f.error)),
      JSON.stringify(result.failures),
    );
    // The good peer is fully programmed, and so are the odd peer's entries the kernel took.
    assert.deepEqual(await routes(), ['192.0.2.2', '9.0.2.0/24']);
    assert.deepEqual(await fdb(), ['70:b3:d5:80:00:02 192.0.2.2', '70:b3:d5:80:00:09 192.0.2.9']);
  },
);

test(
  'the reconciler keeps following changes past a refused entry, then clears it',
  { skip: NEEDS_ROOT },
  async () => {
    const reconciler = new DataplaneReconciler(testLogger(), opts);
    const want = (peers: NodeInfo[]) => deriveDataplane(local, peers, 1420).desired;
    await reconciler.request(want([good]));
    assert.equal(reconciler.error, undefined);
    assert.deepEqual(reconciler.failures, []);
    // The odd peer and a new good one arrive together, as an increment.
    await reconciler.request(want([good, odd, good2]), false);
    assert.equal(reconciler.error, undefined, 'not a failure of the whole run');
    assert.equal(reconciler.failures.length, 2);
    assert.deepEqual(await routes(), ['192.0.2.2', '192.0.2.3', '9.0.2.0/24', '9.0.3.0/24']);
    assert.deepEqual(await fdb(), [
      '70:b3:d5:80:00:02 192.0.2.2',
      '70:b3:d5:80:00:03 192.0.2.3',
      '70:b3:d5:80:00:09 192.0.2.9',
    ]);
    // A later change is applied too; the refused entries are retried and reported again.
    await reconciler.request(want([odd, good2]), false);
    assert.deepEqual(await routes(), ['192.0.2.3', '9.0.3.0/24']);
    assert.equal(reconciler.failures.length, 2);
    // The odd peer leaves: nothing is refused any more, and what it had is removed.
    await reconciler.request(want([good2]), false);
    assert.deepEqual(reconciler.failures, []);
    assert.deepEqual(await fdb(), ['70:b3:d5:80:00:03 192.0.2.3']);
  },
);
