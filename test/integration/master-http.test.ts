// `dcnet master` as a process: the HTTP API with the DC/OS shapes, bad input, durability across a
// restart, and the config checks that stop it before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { masterFetch, masterTlsDir, runDcnet, startMaster, waitForLog } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { fixture } from '../helpers/fixtures.js';

async function post(
  url: string,
  body: unknown,
  raw = false,
): Promise<{ status: number; text: string; type: string | null }> {
  const res = await masterFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

test('the DC/OS example over HTTP: exact state bytes, JSONP, pools, metrics; durable across restart', async () => {
  const dir = await tempDir('master-http');
  let m = await startMaster(['--data-dir', dir]);
  try {
    const nodes: [string, boolean][] = [
      ['172.17.0.2', false],
      ['172.17.0.4', true],
      ['172.17.0.3', true],
    ];
    for (const [ip, bridges] of nodes) {
      const r = await post(`${m.url}/overlay-master/agents`, {
        ip,
        mesos_bridge: bridges,
        docker_bridge: bridges,
      });
      assert.equal(r.status, 200, r.text);
      assert.match(r.type ?? '', /application\/json/);
      const info = JSON.parse(r.text) as { overlays: { info: { name: string } }[] };
      const ack = await post(`${m.url}/overlay-master/agents/ack`, {
        ip,
        overlays: info.overlays.map((o) => ({ name: o.info.name, status: 'STATUS_OK' })),
      });
      assert.equal(ack.status, 204);
    }
    const state = await masterFetch(`${m.url}/overlay-master/state`);
    assert.match(state.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(await state.text(), fixture('overlay-state-3-nodes.json'));
    const jsonp = await masterFetch(`${m.url}/overlay-master/state?jsonp=cb`);
    assert.match(jsonp.headers.get('content-type') ?? '', /text\/javascript/);
    assert.equal(await jsonp.text(), `cb(${fixture('overlay-state-3-nodes.json')});`);

    const pools = (await (await masterFetch(`${m.url}/overlay-master/pools`)).json()) as {
      agents: number;
      vtep: { ipv4: { size: number; used: number; free: number }; ipv6: { free: string } };
      overlays: { name: string; ipv4?: { used: number; free: number } }[];
    };
    assert.equal(pools.agents, 3);
    assert.deepEqual(pools.vtep.ipv4, { subnet: '44.128.0.0/20', size: 4094, used: 3, free: 4091 });
    assert.equal(pools.vtep.ipv6.free, ((1n << 64n) - 2n - 3n).toString());
    assert.equal(pools.overlays[0]!.ipv4!.free, 65536 - 3);

    const metrics = await (await masterFetch(`${m.url}/metrics`)).text();
    assert.match(metrics, /dcnet_overlay_registrations_total\{outcome="new"\} 3/);
    assert.match(metrics, /dcnet_overlay_pool_used\{pool="vtep",family="4"\} 3/);
    assert.match(metrics, /dcnet_overlay_agents 3/);
  } finally {
    await m.kill();
  }

  m = await startMaster(['--data-dir', dir]);
  try {
    const state = JSON.parse(await (await masterFetch(`${m.url}/overlay-master/state`)).text()) as {
      agents: { ip: string }[];
    };
    assert.deepEqual(
      state.agents.map((a) => a.ip),
      ['172.17.0.2', '172.17.0.4', '172.17.0.3'],
    );
    const del = await post(`${m.url}/overlay-master/agents/delete`, { agents: ['172.17.0.4'] });
    assert.equal(del.status, 200);
    assert.deepEqual(
      (JSON.parse(del.text) as { agents: { ip: string }[] }).agents.map((a) => a.ip),
      ['172.17.0.2', '172.17.0.3'],
    );
    const again = JSON.parse((await post(`${m.url}/overlay-master/agents`, { ip: '172.17.0.5' })).text) as {
      overlays: { subnet?: string; backend: { vxlan: { vtep_ip: string } } }[];
    };
    assert.equal(again.overlays[0]!.subnet, '9.0.1.0/24', 'the freed slice is re-used first');
    assert.equal(again.overlays[0]!.backend.vxlan.vtep_ip, '44.128.0.2/20');
  } finally {
    await m.kill();
  }
});

test('malformed bodies get 400 naming the field; unknown agents 404; exhausted VTEP pool 503', async () => {
  const dir = await tempDir('master-bad');
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    'dcos_overlay_network:\n  vtep_subnet: 44.128.0.0/30\n  vtep_mac_oui: "70:B3:D5:00:00:00"\n  overlays: [{name: dcos, subnet: 9.0.0.0/8, prefix: 24}]\n',
  );
  const m = await startMaster(['--data-dir', join(dir, 'data'), '--config', cfg]);
  try {
    const url = `${m.url}/overlay-master/agents`;
    const cases: [unknown, boolean, RegExp][] = [
      ['{"ip":', true, /JSON/i],
      [{}, false, /ip: .*expected string/],
      [{ ip: '10.1' }, false, /ip: must be an IPv4 address/],
      [{ ip: 'fd01::1' }, false, /ip: must be an IPv4 address/],
      [{ ip: '10.0.0.1', mesos_bridge: 'yes' }, false, /mesos_bridge: .*expected boolean/],
      [{ ip: '10.0.0.1', bridge: true }, false, /Unrecognized key: "bridge"/],
      [[1, 2], false, /expected object/],
    ];
    for (const [body, raw, want] of cases) {
      const r = await post(url, body, raw);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.text}`);
      assert.match((JSON.parse(r.text) as { error: string }).error, want);
    }
    const get = await masterFetch(`${m.url}/overlay-master/agents/delete`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const del = await post(`${m.url}/overlay-master/agents/delete`, { agents: ['not-an-ip'] });
    assert.equal(del.status, 400);
    assert.match(del.text, /agents\.0: must be an IPv4 address/);
    const ack = await post(`${m.url}/overlay-master/agents/ack`, { ip: '10.9.9.9', overlays: [] });
    assert.equal(ack.status, 404);
    assert.equal((await masterFetch(`${m.url}/overlay-master/agents/10.9.9.9`)).status, 404);
    const badAck = await post(`${m.url}/overlay-master/agents/ack`, {
      ip: '10.9.9.9',
      overlays: [{ name: 'dcos', status: 'FINE' }],
    });
    assert.equal(badAck.status, 400);
    assert.match(badAck.text, /overlays\.0\.status/);

    // /30: two VTEP addresses.
    assert.equal((await post(url, { ip: '10.0.0.1' })).status, 200);
    assert.equal((await post(url, { ip: '10.0.0.2' })).status, 200);
    const refused = await post(url, { ip: '10.0.0.3' });
    assert.equal(refused.status, 503);
    assert.deepEqual(JSON.parse(refused.text), {
      error:
        'no free VTEP IPv4 address in 44.128.0.0/30 (2 in use); delete departed agents with POST /overlay-master/agents/delete',
      code: 'VTEP_EXHAUSTED',
    });
    const logged = await waitForLog(m, (l) => l.code === 'VTEP_EXHAUSTED' && l.agent === '10.0.0.3');
    assert.match(String(logged.msg), /no free VTEP IPv4 address/);
    // The daemon kept serving and kept its state.
    const state = JSON.parse(await (await masterFetch(`${m.url}/overlay-master/state`)).text()) as {
      agents: unknown[];
    };
    assert.equal(state.agents.length, 2);
  } finally {
    await m.kill();
  }
});

test('a bad config exits non-zero before anything is written, naming overlay and field', async () => {
  const dir = await tempDir('master-badcfg');
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    'dcos_overlay_network:\n  vtep_subnet: 44.128.0.0/20\n  vtep_mac_oui: "70:B3:D5:00:00:00"\n  overlays:\n    - {name: dcos, subnet: 9.0.0.0/8, prefix: 24}\n    - {name: dcos6, subnet6: "fd01:b::/64", prefix6: 130}\n',
  );
  const data = join(dir, 'data');
  const r = await runDcnet(['master', '--config', cfg, '--data-dir', data, '--listen', '127.0.0.1:0']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /dcos_overlay_network\.overlays\[1\]\.prefix6 \(overlay "dcos6"\): 130 is out of range/,
  );
  assert.equal(existsSync(data), false, 'nothing was written');
  const check = await runDcnet(['config', 'check', cfg]);
  assert.equal(check.code, 2);
  assert.match(check.stderr, /prefix6 \(overlay "dcos6"\)/);
  const missing = await runDcnet(['master', '--config', join(dir, 'nope.yaml'), '--data-dir', data]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml: cannot read/);
  const listen = await runDcnet(['master', '--data-dir', data, '--listen', 'localhost']);
  assert.equal(listen.code, 2);
  assert.match(listen.stderr, /--listen: "localhost" is not HOST:PORT/);
});

test('dcnet config check refuses a config that cannot work, naming each key', async () => {
  const dir = await tempDir('config-check');
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    [
      'dcos_overlay_mtu: 1500',
      'dcos_overlay_network: \'{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","overlays":[{"name":"dcos","subnet":"11.0.0.0/16","prefix":24}]}\'',
      'dcnet_overlay_allocation_gc: -5',
    ].join('\n'),
  );
  const check = await runDcnet(['config', 'check', cfg]);
  assert.equal(check.code, 2, check.stderr);
  assert.match(check.stderr, /dcos_overlay_mtu: 1500 is above dcos_overlay_network\.vtep_mtu/);
  assert.match(check.stderr, /dcos_l4lb_min_named_ip\/dcos_l4lb_max_named_ip: .* overlaps overlay "dcos"/);
  assert.match(check.stderr, /dcnet_overlay_allocation_gc/);
});

test('a config that removes or changes an overlay in use is refused at start, saying what differs', async () => {
  const dir = await tempDir('master-change');
  const data = join(dir, 'data');
  const m = await startMaster(['--data-dir', data]);
  assert.equal((await post(`${m.url}/overlay-master/agents`, { ip: '10.0.0.1' })).status, 200);
  await m.kill();
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    'dcos_overlay_network:\n  vtep_subnet: 44.128.0.0/20\n  vtep_subnet6: "fd01:a::/64"\n  vtep_mac_oui: "70:B3:D5:00:00:00"\n  overlays: [{name: dcos, subnet: 9.0.0.0/8, prefix: 26}]\n',
  );
  const r = await runDcnet([
    'master',
    '--config',
    cfg,
    '--data-dir',
    data,
    '--listen',
    '127.0.0.1:0',
    '--tls-dir',
    await masterTlsDir(),
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /overlay "dcos": prefix changed from 24 to 26/);
  assert.match(r.stderr, /overlay "dcos6" was removed/);
  // The refused start changed nothing: the old config still starts and has the agent.
  const again = await startMaster(['--data-dir', data]);
  try {
    const state = JSON.parse(await (await masterFetch(`${again.url}/overlay-master/state`)).text()) as {
      agents: unknown[];
    };
    assert.equal(state.agents.length, 1);
  } finally {
    await again.kill();
  }
});

test('a second master on the same data directory is refused', async () => {
  const dir = await tempDir('master-lock');
  const m = await startMaster(['--data-dir', dir]);
  try {
    const r = await runDcnet(['master', '--data-dir', dir, '--listen', '127.0.0.1:0', '--insecure']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`data directory ${dir} is in use by another process \\(pid ${m.proc.pid}\\)`),
    );
  } finally {
    await m.kill();
  }
});
