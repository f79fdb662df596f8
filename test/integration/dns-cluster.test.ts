// DcosDnsCluster: two worker processes sharing the UDP/TCP listeners; zone changes reach every
// worker, bad changes are refused in the primary, a killed worker is replaced with the current
// zones, counters are summed in the primary's registry, close() stops every worker.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { startDcosDnsCluster, type DcosDnsCluster } from '../../src/dns/server/index.js';
import { eventually } from '../helpers/eventually.js';
import { decode, queryBytes, rcodeOf, tcpAsk, udpAsk } from '../helpers/dns.js';

let c: DcosDnsCluster | undefined;
after(async () => {
  await c?.close();
});

const ipOf = async (port: number, name: string): Promise<string> => {
  const p = decode(await udpAsk(port, queryBytes(name, 'A')));
  return p.answers?.length ? String((p.answers[0] as { data: unknown }).data) : rcodeOf(p);
};

test('cluster of 2 workers: zones everywhere, updates, refusal, replacement, metrics, close', async () => {
  const registry = new Registry();
  c = await startDcosDnsCluster({
    workers: 2,
    listen: [{ host: '127.0.0.1', port: 0 }],
    registry,
    router: { upstreams: [] },
  });
  const port = c.boundPorts[0]!;
  assert.equal(c.workerPids.length, 2);
  c.setZone('l4lb.thisdcos.directory', { a: new Map([['web.l4lb.thisdcos.directory', ['198.51.100.1']]]) });
  await eventually(async () => assert.equal(await ipOf(port, 'web.l4lb.thisdcos.directory'), '198.51.100.1'));
  // Many queries from fresh sockets: both workers answer, both have the zone.
  for (let i = 0; i < 40; i++) assert.equal(await ipOf(port, 'web.l4lb.thisdcos.directory'), '198.51.100.1');
  c.setZone('l4lb.thisdcos.directory', { a: new Map([['web.l4lb.thisdcos.directory', ['198.51.100.2']]]) });
  await eventually(async () => {
    for (let i = 0; i < 20; i++)
      assert.equal(await ipOf(port, 'web.l4lb.thisdcos.directory'), '198.51.100.2');
  });
  assert.throws(
    () => c!.setZone('l4lb.thisdcos.directory', { a: new Map([['x.example.com', ['192.0.2.1']]]) }),
    /outside the zone/,
  );
  assert.equal(await ipOf(port, 'web.l4lb.thisdcos.directory'), '198.51.100.2');
  const [t] = await tcpAsk(port, [queryBytes('web.l4lb.thisdcos.directory', 'A')]);
  assert.equal(rcodeOf(decode(t!)), 'NOERROR');
  // Workers report their counters every second; the primary sums them.
  const noerror = async (): Promise<number> =>
    Number(
      /zone="l4lb\.thisdcos\.directory\.",rcode="NOERROR"\} (\d+)/.exec(
        await registry.getSingleMetricAsString('dcnet_dns_requests_total'),
      )?.[1] ?? 0,
    );
  await eventually(async () => assert.ok((await noerror()) >= 62, String(await noerror())));
  const before = await noerror();
  // Kill one worker (we started it): a replacement comes up with the zones.
  const [victim] = c.workerPids;
  process.kill(victim!, 'SIGKILL');
  await eventually(async () => {
    assert.equal(c!.workerPids.length, 2);
    assert.ok(!c!.workerPids.includes(victim!));
  }, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 20; i++) assert.equal(await ipOf(port, 'web.l4lb.thisdcos.directory'), '198.51.100.2');
  c.deleteZone('l4lb.thisdcos.directory');
  await eventually(async () => assert.equal(await ipOf(port, 'web.l4lb.thisdcos.directory'), 'REFUSED'));
  await eventually(async () => assert.ok((await noerror()) >= before + 20));
  const pids = c.workerPids;
  await c.close();
  c = undefined;
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
});
