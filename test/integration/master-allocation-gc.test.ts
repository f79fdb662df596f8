// Allocation GC on a real `dcnet master` (dcnet_overlay_allocation_gc: 2 s, a /28 VTEP pool of 14):
// 14 agents register; 13 never come up, one publishes its node entry. The 15th is refused until the
// GC time has passed, then gets a freed address; the live agent keeps its own throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpStore } from '../../src/store/index.js';
import { nodeKey, type AgentInfo } from '../../src/overlay/index.js';
import { masterFetch, masterTls, startMaster } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

const GC_S = 2;

async function registerAgent(url: string, ip: string): Promise<{ status: number; vtep?: string }> {
  const res = await masterFetch(`${url}/overlay-master/agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ip, mesos_bridge: true, docker_bridge: true }),
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status };
  const info = JSON.parse(text) as AgentInfo;
  return { status: 200, vtep: info.overlays?.[0]?.backend.vxlan.vtep_ip };
}

test('a /28 VTEP pool: the 15th agent gets an address once the GC time has passed; a live agent keeps its own', async (t) => {
  const dir = await tempDir('alloc-gc');
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    [
      `dcnet_overlay_allocation_gc: ${GC_S}`,
      'dcos_overlay_network:',
      '  vtep_subnet: 44.128.0.0/28',
      "  vtep_mac_oui: '70:B3:D5:00:00:00'",
      '  overlays:',
      '    - { name: dcos, subnet: 9.0.0.0/16, prefix: 24 }',
    ].join('\n'),
  );
  const m = await startMaster(['--config', cfg, '--data-dir', join(dir, 'data')]);
  const store = new HttpStore(m.url, { tls: await masterTls() });
  t.after(async () => {
    await store.close();
    await m.kill('SIGKILL');
  });

  const started = Date.now();
  const vteps: string[] = [];
  for (let i = 1; i <= 14; i++) {
    const r = await registerAgent(m.url, `192.0.2.${i}`);
    assert.equal(r.status, 200);
    vteps.push(r.vtep!);
  }
  // Agent 1 is up: its node entry is under its lease.
  const lease = await store.grantLease(60);
  await store.put(nodeKey('192.0.2.1'), '{}', { lease });
  assert.equal((await registerAgent(m.url, '192.0.2.15')).status, 503, 'the pool is full');

  let fifteenth: { status: number; vtep?: string } = { status: 0 };
  while (Date.now() - started < 15_000) {
    fifteenth = await registerAgent(m.url, '192.0.2.15');
    if (fifteenth.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const waited = Date.now() - started;
  assert.equal(fifteenth.status, 200, 'an address was freed');
  assert.ok(waited >= GC_S * 1000, `not before the GC time (${waited} ms)`);
  assert.equal(fifteenth.vtep, vteps[1], "the lowest freed address: the second agent's");
  assert.deepEqual(
    await registerAgent(m.url, '192.0.2.1'),
    { status: 200, vtep: vteps[0] },
    'the live one keeps its own',
  );
  // The others were marked at the sweep after their registration: all go within a sweep or two.
  let kept: string[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    kept = (await store.range('overlay/agents/')).kvs.map((kv) => kv.key).sort();
    if (kept.length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(kept, ['overlay/agents/192.0.2.1', 'overlay/agents/192.0.2.15']);
  // The 15th never publishes either: its clock runs (marked at the next sweep, every 200 ms here).
  let marks: string[] = [];
  for (const deadline = Date.now() + 1500; Date.now() < deadline && marks.length === 0;) {
    marks = (await store.range('overlay/agent-gone/')).kvs.map((kv) => kv.key);
    if (marks.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(marks, ['overlay/agent-gone/192.0.2.15']);
});
