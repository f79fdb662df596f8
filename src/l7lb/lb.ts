// Wiring of `dcnet lb`: paths next to the config, the HAProxy head, the controller and its API.
import type { HttpAuth } from '../cluster/index.js';
import { lookup } from 'node:dns/promises';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { LbController } from './controller.js';
import { Haproxy, selfSignedCert } from './haproxy.js';
import { lbApi } from './server.js';
import { Templater, defaultHead, globalOptions, withIsolation, type Isolation } from './templates.js';
import type { FastifyInstance } from 'fastify';
import { parseApps } from './marathon.js';
import { MarathonClient } from './marathon-client.js';
import { renderConfig, type RenderOptions, type RenderResult } from './render.js';
import { buildServices, hostsToResolve, type ServiceOptions } from './services.js';

export interface LbOptions {
  readonly marathon: readonly string[];
  /** Marathon credentials (`--auth-credentials` / `--dcos-auth-credentials`). */
  readonly marathonAuth?: HttpAuth;
  readonly groups: readonly string[];
  readonly configPath: string;
  readonly haproxyBin?: string;
  readonly log: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly templateDir?: string;
  readonly sslCerts?: readonly string[];
  readonly bindHttpHttps?: boolean;
  readonly haproxyMap?: boolean;
  readonly groupHttpsByVhost?: boolean;
  readonly strictMode?: boolean;
  readonly healthCheck?: boolean;
  readonly ipPerTaskPortRange?: readonly [number, number];
  /** Marathon-LB behaviour: services without tasks disappear (default: they answer 503). */
  readonly vanishEmpty?: boolean;
  /** Marathon-LB behaviour: `Host: name:80` does not match the vhost `name` (default: it does). */
  readonly keepHostPort?: boolean;
  readonly runtimeApi?: boolean;
  readonly skipValidation?: boolean;
  readonly statsBind?: string;
  readonly api: { host: string; port: number };
  readonly resyncIntervalMs?: number;
  readonly archiveVersions?: number;
  readonly maxBackoffS?: number;
  /** When set, `/_mlb_signal/*` need `Authorization: Bearer <token>` (Marathon-LB: open to all). */
  readonly adminToken?: string;
  /** Without a token: let anyone call /_mlb_signal/* (Marathon-LB's behaviour). Default: refused. */
  readonly openSignals?: boolean;
  /** Per-port template labels `HAPROXY_{n}_<TEMPLATE>` are used (raw config text from tenants);
   *  default: an app with one is left out. */
  readonly allowTemplateLabels?: boolean;
  /** Workers' user, group and chroot (default haproxy, haproxy, /var/lib/haproxy; '' = keep
   *  root / no chroot). */
  readonly haproxyUser?: string;
  readonly haproxyGroup?: string;
  readonly haproxyChroot?: string;
}

const SYSTEM_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The workers' isolation from the options; a bad name or path is a `HeadError`. */
export function isolationOf(o: Pick<LbOptions, 'haproxyUser' | 'haproxyGroup' | 'haproxyChroot'>): Isolation {
  const user = o.haproxyUser ?? 'haproxy';
  const group = o.haproxyGroup ?? (user || 'haproxy');
  const chroot = o.haproxyChroot ?? '/var/lib/haproxy';
  if (user && !SYSTEM_NAME.test(user)) throw new HeadError(`--haproxy-user: "${user}" is not a user name`);
  if (group && !SYSTEM_NAME.test(group))
    throw new HeadError(`--haproxy-group: "${group}" is not a group name`);
  if (chroot && !/^(?:\/[A-Za-z0-9._-]+)+\/?$/.test(chroot))
    throw new HeadError(`--haproxy-chroot: "${chroot}" is not an absolute directory path`);
  return { ...(user && { user }), ...(user && group && { group }), ...(chroot && { chroot }) };
}

export interface RunningLb {
  readonly controller: LbController;
  readonly api: FastifyInstance;
  readonly haproxy: Haproxy;
  close(): Promise<void>;
}

export class HeadError extends Error {}

/** The head in effect; a Marathon-LB `HAPROXY_HEAD` override must still suit master-worker mode. */
export function effectiveHead(
  t: Templater,
  o: Parameters<typeof defaultHead>[0],
  env: LbOptions['env'],
): string {
  const head =
    t.headOverride !== undefined
      ? withIsolation(t.headOverride, o.isolation)
      : defaultHead(o, globalOptions(env?.HAPROXY_GLOBAL_DEFAULT_OPTIONS));
  if (/^\s*daemon\b/m.test(head) || !head.includes('expose-fd listeners'))
    throw new HeadError(
      'HAPROXY_HEAD: must not contain "daemon" and must have "expose-fd listeners" on its stats socket (master-worker mode, seamless reloads)',
    );
  return head;
}

/** Marathon-LB's 50000, or less when the descriptor limit would make HAProxy refuse to start. */
export async function fittingMaxconn(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  if (!Number.isFinite(soft) || soft <= 0) return 50000;
  return Math.max(256, Math.min(50000, Math.floor((soft - 1000) / 2)));
}

interface Setup {
  readonly socketPath: string;
  readonly serverStateFile: string;
  readonly templater: Templater;
  readonly render: Omit<RenderOptions, 'exclude'>;
  readonly services: Omit<ServiceOptions, 'hosts' | 'healthCache'>;
}

/** Paths next to the config, templates, head and the render/service options of a run. */
async function setup(o: LbOptions, makeCert: boolean): Promise<Setup> {
  const dir = dirname(o.configPath);
  const socketPath = join(dir, 'haproxy.sock');
  const serverStateFile = join(dir, 'server-state');
  const env = o.env ?? process.env;
  const templater = new Templater({
    env,
    templateDir: o.templateDir,
    labelTemplates: o.allowTemplateLabels === true,
  });
  const apiAddr = `${o.api.host === '0.0.0.0' ? '127.0.0.1' : o.api.host}:${o.api.port}`;
  const head = effectiveHead(
    templater,
    {
      statsSocket: socketPath,
      serverStateFile,
      statsBind: o.statsBind ?? '0.0.0.0:9090',
      apiAddr,
      maxconn: await fittingMaxconn(),
      isolation: isolationOf(o),
    },
    env,
  );
  // A Marathon-LB HAPROXY_HEAD names its own stats socket and state file: talk to those.
  const sock = /^\s*stats\s+socket\s+(\S+)(.*)$/m.exec(head);
  if (!sock || !/\blevel\s+admin\b/.test(sock[2]!))
    throw new HeadError(
      'HAPROXY_HEAD: needs "stats socket PATH … level admin expose-fd listeners" (the Runtime API)',
    );
  const stateFile = /^\s*server-state-file\s+(\S+)/m.exec(head)?.[1];
  const stateBase = /^\s*server-state-base\s+(\S+)/m.exec(head)?.[1];
  let sslCerts = o.sslCerts ?? [];
  if (sslCerts.length === 0 && o.bindHttpHttps !== false) {
    const cert = join(dir, 'default-cert.pem');
    if (makeCert) await selfSignedCert(cert);
    sslCerts = [cert];
  }
  return {
    socketPath: sock[1]!,
    serverStateFile: stateFile
      ? stateFile.startsWith('/') || !stateBase
        ? stateFile
        : join(stateBase, stateFile)
      : serverStateFile,
    templater,
    render: {
      groups: o.groups,
      bindHttpHttps: o.bindHttpHttps ?? true,
      sslCerts,
      haproxyMap: o.haproxyMap ?? false,
      groupHttpsByVhost: o.groupHttpsByVhost ?? false,
      haproxyDir: dir,
      head,
      keepEmpty: !o.vanishEmpty,
      stripHostPort: !o.keepHostPort,
    },
    services: {
      strictMode: o.strictMode ?? false,
      healthCheck: o.healthCheck ?? false,
      ipPerTaskPortRange: o.ipPerTaskPortRange ?? [10050, 10100],
      frameworkName: env.FRAMEWORK_NAME,
      templateLabels: o.allowTemplateLabels === true,
    },
  };
}

/** `--dry`: the config for the current Marathon state, nothing written or started. */
export async function renderOnce(o: LbOptions): Promise<RenderResult> {
  const s = await setup(o, false);
  const { apps, errors } = parseApps(await new MarathonClient(o.marathon, undefined, o.marathonAuth).apps());
  for (const e of errors) o.log.warn({ error: e }, 'app left out of the config');
  const hosts = new Map<string, string>();
  for (const h of hostsToResolve(apps)) {
    try {
      hosts.set(h, (await lookup(h, { family: 4 })).address);
    } catch {
      o.log.warn({ host: h }, 'task host does not resolve; its tasks are skipped');
    }
  }
  const built = buildServices(apps, { ...s.services, hosts });
  const r = renderConfig(built.services, s.templater, s.render);
  return { ...r, errors: [...built.errors, ...r.errors] };
}

export async function startLb(o: LbOptions): Promise<RunningLb> {
  const dir = dirname(o.configPath);
  await mkdir(dir, { recursive: true });
  const { socketPath, serverStateFile, templater, render, services } = await setup(o, true);
  // HAProxy needs its workers' chroot to exist (it stays empty: everything is read before).
  const { chroot } = isolationOf(o);
  if (chroot) await mkdir(chroot, { recursive: true, mode: 0o755 });
  // An empty state file (version line only) rather than a warning on the first start.
  if (!(await readFile(serverStateFile, 'utf8').catch(() => ''))) await writeFile(serverStateFile, '1\n');
  const haproxy = new Haproxy({
    bin: o.haproxyBin ?? 'haproxy',
    configPath: o.configPath,
    socketPath,
    serverStateFile,
    log: o.log.child({ part: 'haproxy' }),
  });
  const controller = new LbController({
    marathon: o.marathon,
    ...(o.marathonAuth && { marathonAuth: o.marathonAuth }),
    log: o.log,
    templater,
    haproxy,
    configPath: o.configPath,
    socketPath,
    render,
    services,
    ...(o.runtimeApi !== undefined && { runtimeApi: o.runtimeApi }),
    ...(o.skipValidation !== undefined && { skipValidation: o.skipValidation }),
    ...(o.resyncIntervalMs !== undefined && { resyncIntervalMs: o.resyncIntervalMs }),
    ...(o.archiveVersions !== undefined && { archiveVersions: o.archiveVersions }),
    ...(o.maxBackoffS !== undefined && { maxBackoffS: o.maxBackoffS }),
  });
  const api = lbApi(
    controller,
    haproxy,
    o.log,
    o.adminToken !== undefined ? { token: o.adminToken } : o.openSignals ? 'open' : 'closed',
  );
  await api.listen({ host: o.api.host, port: o.api.port });
  await controller.start();
  return {
    controller,
    api,
    haproxy,
    close: async () => {
      await controller.stop();
      await api.close();
    },
  };
}
