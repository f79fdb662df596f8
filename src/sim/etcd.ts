// Real etcd members on loopback for tests and benchmarks: 1 or 3, free ports, data in a temp dir;
// stopped by PID and waited for before their data goes (etcd dies noisily otherwise).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../kernel/raw.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  readonly name: string;
  readonly client: string;
  proc: ChildProcess;
  readonly args: string[];
}

export interface EtcdCluster {
  readonly members: EtcdMember[];
  readonly endpoints: string[];
  readonly url: string;
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** PEM text for a TLS-only etcd: one certificate (IP SAN 127.0.0.1) serves clients and peers,
 *  and `--client-cert-auth` makes every client present one signed by `ca`. */
export interface EtcdTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface StartEtcdOptions {
  readonly tls?: EtcdTlsFiles;
}

async function healthy(endpoints: string[], timeoutMs: number, tlsArgs: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await run(
        'etcdctl',
        ['--endpoints', endpoints.join(','), ...tlsArgs, '--dial-timeout', '1s', 'endpoint', 'health'],
        { timeoutMs: 5000 },
      );
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startEtcd(size: 1 | 3, opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'dcnet-test-etcd-'));
  const ports = await Promise.all(Array.from({ length: size * 2 }, freePort));
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const scheme = opts.tls ? 'https' : 'http';
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  if (opts.tls) {
    await writeFile(files.ca, opts.tls.ca);
    await writeFile(files.cert, opts.tls.cert);
    await writeFile(files.key, opts.tls.key, { mode: 0o600 });
  }
  const tlsArgs = opts.tls
    ? [
        ...['--cert-file', files.cert, '--key-file', files.key],
        ...['--trusted-ca-file', files.ca, '--client-cert-auth'],
        ...['--peer-cert-file', files.cert, '--peer-key-file', files.key],
        ...['--peer-trusted-ca-file', files.ca, '--peer-client-cert-auth'],
      ]
    : [];
  const ctlTls = opts.tls ? ['--cacert', files.ca, '--cert', files.cert, '--key', files.key] : [];
  const initial = names.map((n, i) => `${n}=${scheme}://127.0.0.1:${ports[size + i]}`).join(',');
  const members: EtcdMember[] = names.map((name, i) => {
    const client = `127.0.0.1:${ports[i]}`;
    const peer = `${scheme}://127.0.0.1:${ports[size + i]}`;
    const args = [
      '--logger=zap',
      '--log-level=error',
      '--name',
      name,
      '--data-dir',
      join(dir, name),
      '--listen-client-urls',
      `${scheme}://${client}`,
      '--advertise-client-urls',
      `${scheme}://${client}`,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      initial,
      '--initial-cluster-token',
      `dcnet-test-${ports[0]}`,
      '--initial-cluster-state',
      'new',
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      ...tlsArgs,
    ];
    return { name, client, args, proc: spawn('etcd', args, { stdio: 'ignore' }) };
  });
  const endpoints = members.map((m) => m.client);
  const stopOne = async (m: EtcdMember, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (m.proc.exitCode !== null || m.proc.signalCode !== null) return;
    const exited = new Promise((r) => m.proc.once('exit', r));
    m.proc.kill(signal);
    await exited;
  };
  process.on('exit', () => members.forEach((m) => m.proc.kill('SIGKILL')));
  await healthy(endpoints, 20_000, ctlTls);
  return {
    members,
    endpoints,
    url: `${opts.tls ? 'etcds' : 'etcd'}://${endpoints.join(',')}`,
    kill: (name, signal = 'SIGKILL') =>
      stopOne(
        members.find((m) => m.name === name)!,
        signal,
      ),
    async restart(name) {
      const m = members.find((x) => x.name === name)!;
      await stopOne(m);
      m.proc = spawn(
        'etcd',
        m.args.map((a) => (a === 'new' ? 'existing' : a)),
        { stdio: 'ignore' },
      );
    },
    async stop() {
      await Promise.all(members.map((m) => stopOne(m)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
