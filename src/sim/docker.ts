// A real dockerd inside a simulated host (specs/test-machine.md §7: nsenter, not `ip netns exec`;
// no iptables, no docker0), and a busybox image imported from the local busybox binary.
import { mkdir, symlink, copyFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DockerClient } from '../kernel/index.js';
import { run } from '../kernel/raw.js';
import type { Host, Spawned, Testbed } from './testbed.js';

export const DOCKER_CLI = '/usr/bin/docker';
export const BUSYBOX_IMAGE = 'dcnet-test/busybox:1';

export interface Dockerd {
  readonly socket: string;
  readonly proc: Spawned;
  cli(args: string[]): Promise<string>;
}

export async function startDockerd(
  tb: Testbed,
  host: Host,
  dir: string,
  socket = join(dir, 'docker.sock'),
): Promise<Dockerd> {
  await mkdir(dir, { recursive: true });
  const proc = tb.spawn(host.netns, 'dockerd', [
    '--host',
    `unix://${socket}`,
    '--data-root',
    join(dir, 'docker-root'),
    '--exec-root',
    join(dir, 'docker-exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
  ]);
  const cli = async (args: string[]): Promise<string> =>
    (await run(DOCKER_CLI, ['-H', `unix://${socket}`, ...args], { timeoutMs: 60_000 })).stdout.trim();
  // Containers first, while dockerd still runs; then dockerd (the test bed stops it by PID).
  tb.onDestroy(async () => {
    const ids = (await cli(['ps', '-aq']).catch(() => '')).split('\n').filter(Boolean);
    if (ids.length) await cli(['rm', '-f', ...ids]).catch(() => '');
    await cli(['network', 'prune', '-f']).catch(() => '');
  });
  const client = new DockerClient(socket, 2000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.ping();
      break;
    } catch {
      if (Date.now() > deadline || proc.proc.exitCode !== null)
        throw new Error(`dockerd did not start:\n${proc.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { socket, proc, cli };
}

/** Imports a busybox image (sh, httpd, nc, ip, ping) built from /usr/bin/busybox: no registry needed. */
export async function importBusybox(d: Dockerd, dir: string): Promise<string> {
  const rootfs = join(dir, 'busybox-rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await mkdir(join(rootfs, 'www'), { recursive: true });
  if (!existsSync(join(rootfs, 'bin', 'busybox'))) {
    await copyFile('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const a of ['sh', 'httpd', 'nc', 'ip', 'ping', 'echo', 'cat', 'sleep', 'hostname']) {
      await symlink('busybox', join(rootfs, 'bin', a));
    }
    await writeFile(join(rootfs, 'www', 'index.html'), 'dcnet busybox\n');
  }
  // A pipe in the shell: the tar stream is binary and must not pass through a JS string.
  await run(
    'sh',
    [
      '-c',
      'tar -C "$1" -c . | "$2" -H "unix://$3" import - "$4"',
      'sh',
      rootfs,
      DOCKER_CLI,
      d.socket,
      BUSYBOX_IMAGE,
    ],
    {
      timeoutMs: 60_000,
    },
  );
  return BUSYBOX_IMAGE;
}
