// resolv.conf and the Spartan watchdog in a namespace: the agent points its node's resolv.conf
// (/etc/netns/<ns>/resolv.conf, what `ip netns exec` shows as /etc/resolv.conf) at the three
// node-local DNS addresses, keeping search/options and saving the original once; when the node
// DNS stops answering (an nft drop of udp/53 to 198.51.100.1 in that namespace) the watchdog
// switches the file to the upstream within its interval, and back once the drop rule goes; the
// file is never empty or without a nameserver in between; every switch is logged and counted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DCNET_BIN, OverlayCluster, sweepStale } from '../../src/sim/index.js';
import { parseResolvConf } from '../../src/dns/dcos/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let cluster: OverlayCluster;
let workdir: string;
const ORIGINAL = 'search corp.example\noptions ndots:2 timeout:1\nnameserver 192.0.2.53\n';
const INTERVAL_S = 1;
const TABLE = 'dcnet_test_resolv';

before(async () => {
  if (NEEDS_ROOT) return;
  await sweepStale();
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-e2e-resolv-'));
  cluster = await OverlayCluster.start({
    agents: 1,
    workdir,
    logDir: workdir,
    // The node's resolv.conf as DHCP left it, before the agent's first start.
    prepareHost: async (_name, host) => {
      await mkdir(`/etc/netns/${host.netns}`, { recursive: true });
      await writeFile(`/etc/netns/${host.netns}/resolv.conf`, ORIGINAL);
    },
    agentArgs: () => ['--resolv-conf-interval', String(INTERVAL_S)],
  });
  await cluster.waitReady(30_000);
});

after(async () => {
  if (cluster) {
    await cluster.tb
      .exec(cluster.agent('a1').host.netns, 'nft', ['delete', 'table', 'inet', TABLE])
      .catch(() => {});
    await cluster.destroy();
  }
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

/** `dcnet status` run in the master's namespace with the operator's certificate. */
const dcnetStatus = async (...extra: string[]): Promise<string> =>
  (
    await cluster.tb.exec(cluster.master.host.netns, process.execPath, [
      DCNET_BIN,
      'status',
      '--tls-dir',
      cluster.tls.get('operator')!.dir,
      '--master',
      cluster.master.url,
      ...extra,
    ])
  ).stdout;

test(
  'the watchdog switches resolv.conf to the upstream while the node DNS fails, and back; never an empty file',
  { skip: NEEDS_ROOT },
  async () => {
    const a1 = cluster.agent('a1');
    const ns = a1.host.netns;
    const path = `/etc/netns/${ns}/resolv.conf`;
    const upstream = cluster.master.host.ip;
    const read = async () => parseResolvConf(await readFile(path, 'utf8'));
    const health = async () => {
      const { stdout } = await cluster.tb.exec(ns, 'curl', ['-sS', '-m', '5', `${a1.url}/health`]);
      return (JSON.parse(stdout) as { resolv_conf?: { mode?: string } }).resolv_conf?.mode;
    };

    // Local mode: the three node DNS addresses, the original's search/options, the original saved.
    await eventually(async () => {
      const p = await read();
      assert.deepEqual(p.nameservers, ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
      assert.deepEqual(p.kept, ['search corp.example', 'options ndots:2 timeout:1']);
      assert.equal(p.generated, true);
    }, 15_000);
    assert.equal(await readFile(`${path}.dcnet-orig`, 'utf8'), ORIGINAL);
    assert.equal(await health(), 'local');
    // All three addresses answer (they are not dead "upstreams").
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      const { stdout } = await cluster.tb.exec(ns, 'dig', [
        '+time=2',
        '+tries=1',
        '+short',
        `@${ip}`,
        'ready.spartan',
      ]);
      assert.equal(stdout.trim(), '127.0.0.1', `${ip} answers ready.spartan`);
    }

    // Poll the file all along: never empty, never without a nameserver.
    const bad: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const text = await readFile(path, 'utf8').catch((e: Error) => `unreadable: ${e.message}`);
        if (parseResolvConf(text).nameservers.length === 0) bad.push(text);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await cluster.tb.exec(ns, 'nft', ['-f', '-'], {
        input: [
          `table inet ${TABLE} {`,
          '  chain out { type filter hook output priority 0; ip daddr 198.51.100.1 udp dport 53 drop; }',
          '}',
          '',
        ].join('\n'),
      });
      const blocked = Date.now();
      await eventually(async () => assert.deepEqual((await read()).nameservers, [upstream]), 15_000, 20);
      const took = Date.now() - blocked;
      // Within its interval plus the probe's timeout (and slack for a loaded machine).
      assert.ok(took < (INTERVAL_S * 2 + 4) * 1000, `switched to upstream after ${took} ms`);
      assert.deepEqual((await read()).kept, ['search corp.example', 'options ndots:2 timeout:1']);
      assert.equal(await health(), 'upstream');
      await eventually(async () => assert.match(await dcnetStatus(), /resolv\.conf: UPSTREAM/), 10_000);

      await cluster.tb.exec(ns, 'nft', ['delete', 'table', 'inet', TABLE]);
      await eventually(
        async () =>
          assert.deepEqual((await read()).nameservers, ['198.51.100.1', '198.51.100.2', '198.51.100.3']),
        15_000,
        20,
      );
      assert.equal(await health(), 'local');
    } finally {
      polling = false;
      await poller;
    }
    assert.deepEqual(bad, [], 'resolv.conf was never empty or without a nameserver');

    // Every switch logged and counted; the original was saved once, not overwritten by ours.
    const log = await readFile(join(workdir, 'a1.log'), 'utf8');
    assert.match(log, /resolv\.conf switched to the upstream resolvers/);
    assert.match(log, /"from":"upstream","to":"local"/);
    const { stdout: metrics } = await cluster.tb.exec(ns, 'curl', ['-sS', '-m', '5', `${a1.url}/metrics`]);
    assert.match(metrics, /dcnet_dns_resolv_conf_switches_total\{to="upstream"\} [1-9]/);
    assert.match(metrics, /dcnet_dns_resolv_conf_switches_total\{to="local"\} [1-9]/);
    assert.match(metrics, /dcnet_dns_resolv_conf_mode\{mode="local"\} 1/);
    assert.equal(await readFile(`${path}.dcnet-orig`, 'utf8'), ORIGINAL);
  },
);

test(
  'dcnet status on the live cluster: the agent overlays STATUS_OK, resolv.conf mode, pools, VIPs, zones',
  { skip: NEEDS_ROOT },
  async () => {
    const a1 = cluster.agent('a1').host.ip;
    await eventually(async () => {
      const stdout = await dcnetStatus();
      assert.match(stdout, new RegExp(`${a1.replace(/\./g, '\\.')} +vtep 44\\.128\\.0\\.\\d+ +published`));
      assert.match(stdout, /overlay dcos: STATUS_OK/);
      assert.match(stdout, /resolv\.conf: local/);
      assert.match(stdout, /vtep +44\.128\.0\.0\/20 +1 used of \d+/);
      assert.match(stdout, /dcos +9\.0\.0\.0\/8 \/24 +1 used of 65536/);
      assert.match(stdout, /VIPs: \d+/);
      assert.match(stdout, /DNS zones served by every node \(\d+\):/);
    }, 15_000);
  },
);
