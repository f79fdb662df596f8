// dcnet's mesos-cni-port-mapper as the executable Mesos runs: config on stdin, CNI_* in the
// environment, the delegate found in CNI_PATH and given the config's name and args, its 0.2.0
// result passed back; failures as Mesos' CNI error JSON with its codes. No port mappings here,
// so nothing touches the kernel (the DNAT path runs in test/e2e/mesos-cni.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PORT_MAPPER_MAIN } from '../../src/sim/index.js';

async function withPlugins(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dcnet-test-port-mapper-'));
  try {
    // A delegate that records what it was given and answers in the 0.2.0 shape (or fails).
    await writeFile(
      join(dir, 'fake-bridge'),
      `#!/bin/sh\ncat > "${dir}/stdin.json"\nenv | grep '^CNI_' | sort > "${dir}/env.txt"\n` +
        `if [ "$CNI_COMMAND" = DEL ]; then exit 0; fi\n` +
        `echo '{"cniVersion":"0.2.0","ip4":{"ip":"192.0.2.5/24","gateway":"192.0.2.1"},"ip6":{"ip":"2001:db8::5/64"},"dns":{}}'\n`,
    );
    await writeFile(join(dir, 'failing'), `#!/bin/sh\necho '{"code":11,"msg":"no"}'\nexit 1\n`);
    await chmod(join(dir, 'fake-bridge'), 0o755);
    await chmod(join(dir, 'failing'), 0o755);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the plugin; an `env` value of null leaves that variable out. */
const run = (dir: string, config: unknown, env: Record<string, string | null> = {}) => {
  const all: Record<string, string | null | undefined> = {
    PATH: process.env.PATH,
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'task.1',
    CNI_NETNS: '/run/netns/none',
    CNI_IFNAME: 'eth0',
    CNI_PATH: dir,
    ...env,
  };
  return spawnSync(process.execPath, [PORT_MAPPER_MAIN], {
    input: JSON.stringify(config),
    encoding: 'utf8',
    env: Object.fromEntries(
      Object.entries(all).filter((e): e is [string, string] => typeof e[1] === 'string'),
    ),
  });
};

const config = (delegate: string) => ({
  cniVersion: '0.2.0',
  name: 'dcos',
  type: 'mesos-cni-port-mapper',
  chain: 'M-DCOS',
  excludeDevices: ['m-dcos'],
  args: { 'org.apache.mesos': { network_info: { name: 'dcos' } } },
  delegate: { cniVersion: '0.2.0', type: delegate, bridge: 'm-dcos' },
});

test('ADD: the delegate gets name and args, its ip4/ip6 result comes back as NetworkInfo', async () => {
  await withPlugins(async (dir) => {
    const r = run(dir, config('fake-bridge'), { CNI_ARGS: 'IgnoreUnknown=1' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      ip4: { ip: '192.0.2.5/24', gateway: '192.0.2.1', routes: [] },
      ip6: { ip: '2001:db8::5/64', routes: [] },
      dns: { nameservers: [], search: [], options: [] },
    });
    const given = JSON.parse(await readFile(join(dir, 'stdin.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(given.name, 'dcos');
    assert.deepEqual(given.args, config('x').args);
    const env = await readFile(join(dir, 'env.txt'), 'utf8');
    assert.match(env, /^CNI_ARGS=IgnoreUnknown=1$/m);
    assert.match(env, /^CNI_COMMAND=ADD$/m);
    assert.match(env, /^CNI_IFNAME=eth0$/m);
  });
});

test('DEL without CNI_NETNS is allowed and prints nothing; a failing delegate is error 102', async () => {
  await withPlugins(async (dir) => {
    const del = run(dir, config('fake-bridge'), { CNI_COMMAND: 'DEL', CNI_NETNS: null });
    assert.equal(del.status, 0, del.stdout + del.stderr);
    assert.equal(del.stdout, '');
    const bad = run(dir, config('failing'));
    assert.equal(bad.status, 1);
    const err = JSON.parse(bad.stdout) as { cniVersion: string; code: number; msg: string };
    assert.equal(err.cniVersion, '0.3.0');
    assert.equal(err.code, 102);
    assert.match(
      err.msg,
      /^Could not execute the delegate plugin 'failing' for ADD command: The delegate CNI plugin '.*failing' return status 1\./,
    );
    const missing = run(dir, config('absent'));
    assert.deepEqual(JSON.parse(missing.stdout), {
      cniVersion: '0.3.0',
      code: 101,
      msg: `Could not find the delegate plugin 'absent' in '${dir}'`,
    });
    const noNetns = run(dir, config('fake-bridge'), { CNI_NETNS: null });
    assert.equal(
      (JSON.parse(noNetns.stdout) as { msg: string }).msg,
      "Unable to find environment variable 'CNI_NETNS' for non-'DEL' command",
    );
    const unsupported = run(dir, config('fake-bridge'), { CNI_COMMAND: 'CHECK' });
    assert.equal((JSON.parse(unsupported.stdout) as { code: number }).code, 104);
  });
});
