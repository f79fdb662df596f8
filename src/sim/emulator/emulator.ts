// The Mesos/Marathon emulator: keeps apps at their instance count by launching real task
// processes on the simulated agents, restarts failed ones, runs health checks, and emits
// Marathon's events. The HTTP APIs (api.ts) render its state in Mesos' and Marathon's formats.
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { run } from '../../kernel/raw.js';
import { parseApp, type App } from './apps.js';
import { launchTask, type LaunchedTask } from './launcher.js';
import type { Topology, TopoAgent } from './topology.js';

export type TaskState =
  'TASK_STAGING' | 'TASK_STARTING' | 'TASK_RUNNING' | 'TASK_KILLING' | 'TASK_KILLED' | 'TASK_FAILED';

export interface HealthResult {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess?: string;
  lastSuccess?: string;
  lastFailure?: string;
  lastFailureCause?: string;
  taskId: string;
}

export interface Task {
  id: string;
  appId: string;
  agent: TopoAgent;
  state: TaskState;
  hostPorts: (number | undefined)[];
  ips: string[];
  networkNames: string[];
  netns?: string;
  version: string;
  stagedAt: string;
  startedAt?: string;
  /** Mesos status history: state and time (seconds). */
  statuses: { state: TaskState; timestamp: number; healthy?: boolean }[];
  health?: HealthResult[];
  /** When each health check last ran (ms). */
  lastCheck: number[];
  launched?: LaunchedTask;
}

export interface EmulatorEvent {
  eventType: string;
  timestamp: string;
  [key: string]: unknown;
}

export interface EmulatorOptions {
  readonly topology: Topology;
  readonly log: Logger;
  /** How long a task shows TASK_KILLING before it is stopped (default 1 s). */
  readonly killGraceMs?: number;
  readonly frameworkId?: string;
}

const now = (): string => new Date().toISOString();
const HOST_PORT_RANGE: [number, number] = [31000, 31999];
const SERVICE_PORT_RANGE: [number, number] = [10000, 20000];

export class Emulator {
  readonly apps = new Map<string, App>();
  readonly tasks = new Map<string, Task>();
  readonly frameworkId: string;
  readonly agentIds = new Map<string, string>();
  private readonly listeners = new Set<(e: EmulatorEvent) => void>();
  private readonly usedHostPorts = new Map<string, Set<number>>();
  private readonly usedServicePorts = new Set<number>();
  private readonly failedAt = new Map<string, number>();
  private placement = 0;
  private timer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private reconciling = false;
  private stopping = false;

  constructor(private readonly o: EmulatorOptions) {
    this.frameworkId = o.frameworkId ?? `${randomUUID()}-0000`;
    o.topology.agents.forEach((a, i) => this.agentIds.set(a.name, `${this.frameworkId.slice(0, 36)}-S${i}`));
  }

  get topology(): Topology {
    return this.o.topology;
  }

  start(): void {
    this.timer = setInterval(() => void this.reconcile(), 250);
    this.healthTimer = setInterval(() => void this.checkHealth(), 250);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    clearInterval(this.healthTimer);
    await Promise.all([...this.tasks.values()].map((t) => t.launched?.destroy()));
    this.tasks.clear();
  }

  subscribe(fn: (e: EmulatorEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(eventType: string, fields: Record<string, unknown>): void {
    const e: EmulatorEvent = { eventType, timestamp: now(), ...fields };
    for (const fn of this.listeners) fn(e);
  }

  /** Networks the agents have a CNI config file for (a container network must be one of them).
   *  By file name only: whether Mesos can load the file is the launch's business, and a task on a
   *  network it cannot load fails there with Mesos' error, as it would on a real agent. */
  async knownNetworks(): Promise<string[]> {
    const first = this.o.topology.agents[0];
    if (!first) return [];
    const files = await readdir(first.cniDir).catch(() => [] as string[]);
    return [...new Set(files.flatMap((f) => /^(.+)\.(conf|conflist|json)$/.exec(f)?.[1] ?? []))];
  }

  private assignServicePorts(app: App, previous?: App): void {
    app.ports.forEach((p, i) => {
      if (p.servicePort !== 0) return;
      const old = previous?.ports[i]?.servicePort;
      if (old) {
        p.servicePort = old;
        return;
      }
      for (let port = SERVICE_PORT_RANGE[0]; port <= SERVICE_PORT_RANGE[1]; port++) {
        if (!this.usedServicePorts.has(port)) {
          this.usedServicePorts.add(port);
          p.servicePort = port;
          return;
        }
      }
    });
  }

  async createApp(input: unknown, clientIp = ''): Promise<App> {
    const app = parseApp(input, await this.knownNetworks());
    if (this.apps.has(app.id)) {
      throw Object.assign(new Error(`An app with id [${app.id}] already exists.`), { status: 409 });
    }
    this.assignServicePorts(app);
    this.apps.set(app.id, app);
    this.emit('api_post_event', { clientIp, uri: '/v2/apps', appDefinition: app.raw });
    void this.reconcile();
    return app;
  }

  /** PUT: Marathon's default partial update (fields not given are kept); tasks of an older
   *  version are replaced, a change of `instances` alone only scales. */
  async updateApp(id: string, input: unknown, clientIp = ''): Promise<{ app: App; created: boolean }> {
    const previous = this.apps.get(id);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw Object.assign(new Error('Invalid JSON: expected an object'), { status: 400 });
    }
    const merged = { ...(previous?.raw ?? {}), ...input, id };
    const app = parseApp(merged, await this.knownNetworks());
    this.assignServicePorts(app, previous);
    this.apps.set(app.id, app);
    this.emit('api_post_event', { clientIp, uri: `/v2/apps${app.id}`, appDefinition: app.raw });
    if (previous) {
      const scaleOnly =
        JSON.stringify({ ...previous.raw, instances: 0 }) === JSON.stringify({ ...app.raw, instances: 0 });
      if (scaleOnly) app.version = previous.version;
      else for (const t of this.tasksOf(id)) void this.kill(t);
    }
    void this.reconcile();
    return { app, created: previous === undefined };
  }

  async deleteApp(id: string): Promise<boolean> {
    const app = this.apps.get(id);
    if (!app) return false;
    this.apps.delete(id);
    for (const p of app.ports) this.usedServicePorts.delete(p.servicePort);
    await Promise.all(this.tasksOf(id).map((t) => this.kill(t)));
    this.emit('app_terminated_event', { appId: id });
    return true;
  }

  tasksOf(appId: string): Task[] {
    return [...this.tasks.values()].filter((t) => t.appId === appId);
  }

  /** Kills one task; with `scale` the app's instance count drops by one (no replacement). */
  async killTask(taskId: string, scale: boolean): Promise<Task | undefined> {
    const t = this.tasks.get(taskId);
    if (!t) return undefined;
    if (scale) {
      const app = this.apps.get(t.appId);
      if (app) {
        app.instances = Math.max(0, app.instances - 1);
        app.raw = { ...app.raw, instances: app.instances };
      }
    }
    await this.kill(t);
    return t;
  }

  private setState(t: Task, state: TaskState, message = ''): void {
    t.state = state;
    const healthy = t.health?.[0]?.alive;
    t.statuses.push({ state, timestamp: Date.now() / 1000, ...(healthy !== undefined && { healthy }) });
    this.emit('status_update_event', {
      slaveId: this.agentIds.get(t.agent.name),
      taskId: t.id,
      taskStatus: state,
      message,
      appId: t.appId,
      host: t.agent.ip,
      ipAddresses: t.ips.map((ip) => ({ ipAddress: ip, protocol: ip.includes(':') ? 'IPv6' : 'IPv4' })),
      ports: t.hostPorts.filter((p) => p !== undefined),
      version: t.version,
    });
  }

  private async kill(t: Task): Promise<void> {
    if (t.state === 'TASK_KILLING' || t.state === 'TASK_KILLED') return;
    this.setState(t, 'TASK_KILLING');
    await new Promise((r) => setTimeout(r, this.o.killGraceMs ?? 1000));
    await t.launched?.destroy();
    this.releasePorts(t);
    this.setState(t, 'TASK_KILLED');
    this.tasks.delete(t.id);
  }

  private releasePorts(t: Task): void {
    const used = this.usedHostPorts.get(t.agent.name);
    for (const p of t.hostPorts) if (p !== undefined) used?.delete(p);
  }

  private pickAgent(app: App): TopoAgent | undefined {
    const wantPublic = app.acceptedResourceRoles?.includes('slave_public') ?? false;
    // Marathon's hostname constraints: CLUSTER (exactly this host) and LIKE (a regular expression).
    const fits = (a: TopoAgent): boolean =>
      (app.constraints ?? []).every(([field, op, value]) => {
        if (field !== 'hostname' || value === undefined) return true;
        if (op === 'CLUSTER') return a.ip === value || a.name === value;
        if (op === 'LIKE') return new RegExp(`^(?:${value})$`).test(a.ip);
        return true;
      });
    const candidates = this.o.topology.agents.filter((a) => a.public === wantPublic && fits(a));
    if (candidates.length === 0) return undefined;
    return candidates[this.placement++ % candidates.length];
  }

  private allocateHostPorts(app: App, agent: TopoAgent): (number | undefined)[] | undefined {
    const used = this.usedHostPorts.get(agent.name) ?? new Set<number>();
    this.usedHostPorts.set(agent.name, used);
    const out: (number | undefined)[] = [];
    for (const p of app.ports) {
      if (p.hostPort === undefined) {
        out.push(undefined);
        continue;
      }
      let port = p.hostPort;
      if (port === 0) {
        port = HOST_PORT_RANGE[0];
        while (used.has(port) && port <= HOST_PORT_RANGE[1]) port++;
        if (port > HOST_PORT_RANGE[1]) return undefined;
      } else if (used.has(port)) return undefined;
      used.add(port);
      out.push(port);
    }
    return out;
  }

  /** Brings every app to its instance count: launches missing tasks, kills extra ones. */
  async reconcile(): Promise<void> {
    if (this.reconciling || this.stopping) return;
    this.reconciling = true;
    try {
      const launches: Promise<void>[] = [];
      for (const app of this.apps.values()) {
        const live = this.tasksOf(app.id).filter(
          (t) => t.state !== 'TASK_KILLING' && t.state !== 'TASK_KILLED',
        );
        for (const extra of live.slice(app.instances).reverse()) void this.kill(extra);
        const failed = this.failedAt.get(app.id) ?? 0;
        if (Date.now() - failed < 1000) continue; // back off a crashing app
        for (let i = live.length; i < app.instances; i++) {
          const agent = this.pickAgent(app);
          if (!agent) break;
          const hostPorts = this.allocateHostPorts(app, agent);
          if (!hostPorts) break;
          launches.push(this.launch(app, agent, hostPorts));
        }
      }
      await Promise.all(launches);
    } finally {
      this.reconciling = false;
    }
  }

  private async launch(app: App, agent: TopoAgent, hostPorts: (number | undefined)[]): Promise<void> {
    const id = `${app.id.slice(1).replace(/\//g, '_')}.${randomUUID()}`;
    const t: Task = {
      id,
      appId: app.id,
      agent,
      state: 'TASK_STAGING',
      hostPorts,
      ips: [],
      networkNames: [],
      version: app.version,
      stagedAt: now(),
      statuses: [],
      lastCheck: [],
    };
    this.tasks.set(id, t);
    this.setState(t, 'TASK_STAGING');
    try {
      const launched = await launchTask({
        taskId: id,
        app,
        agent,
        agentIndex: this.o.topology.agents.indexOf(agent),
        hostPorts,
        workdir: this.o.topology.workdir,
        log: this.o.log,
      });
      t.launched = launched;
      t.ips = launched.ips;
      t.netns = launched.netns;
      t.networkNames = launched.networkNames;
      if (this.stopping || !this.tasks.has(id) || t.state !== 'TASK_STAGING') {
        await launched.destroy();
        return;
      }
      t.startedAt = now();
      this.setState(t, 'TASK_RUNNING');
      void launched.exited.then((code) => this.onExit(t, code));
    } catch (err) {
      this.o.log.error({ app: app.id, agent: agent.name, err: (err as Error).message }, 'task launch failed');
      this.releasePorts(t);
      this.failedAt.set(app.id, Date.now());
      this.setState(t, 'TASK_FAILED', (err as Error).message);
      this.tasks.delete(id);
    }
  }

  private async onExit(t: Task, code: number | null): Promise<void> {
    if (t.state !== 'TASK_RUNNING' || this.stopping) return;
    this.o.log.warn({ task: t.id, code }, 'task exited; Marathon will replace it');
    await t.launched?.destroy();
    this.releasePorts(t);
    this.failedAt.set(t.appId, Date.now());
    this.setState(t, 'TASK_FAILED', `exited with ${code}`);
    this.tasks.delete(t.id);
  }

  /** Runs due health checks from the task's agent (as Mesos-executed checks do). */
  private async checkHealth(): Promise<void> {
    const due: Promise<void>[] = [];
    const nowMs = Date.now();
    for (const t of this.tasks.values()) {
      const app = this.apps.get(t.appId);
      if (!app || app.healthChecks.length === 0 || t.state !== 'TASK_RUNNING' || !t.startedAt) continue;
      const started = Date.parse(t.startedAt);
      app.healthChecks.forEach((hc, i) => {
        const last = t.lastCheck;
        if (last[i] === undefined && nowMs - started < hc.delaySeconds * 1000) return;
        if (nowMs - (last[i] ?? 0) < hc.intervalSeconds * 1000) return;
        last[i] = nowMs;
        due.push(this.runCheck(t, app, i));
      });
    }
    await Promise.all(due);
  }

  private async runCheck(t: Task, app: App, index: number): Promise<void> {
    const hc = app.healthChecks[index]!;
    const portIndex = hc.portIndex ?? 0;
    const viaHost = app.mode !== 'container' && t.hostPorts[portIndex] !== undefined;
    const port =
      hc.port ??
      (viaHost ? t.hostPorts[portIndex]! : app.ports[portIndex]?.containerPort || t.hostPorts[portIndex]!);
    const ip = viaHost ? t.agent.ip : (t.ips[0] ?? t.agent.ip);
    const host = ip.includes(':') ? `[${ip}]` : ip;
    let ok = false;
    let cause = '';
    try {
      if (hc.protocol === 'TCP' || hc.protocol === 'MESOS_TCP') {
        await run('nc', ['-z', '-w', String(Math.ceil(hc.timeoutSeconds)), ip, String(port)], {
          netns: t.agent.netns,
          timeoutMs: hc.timeoutSeconds * 1000 + 1000,
        });
      } else {
        const { stdout } = await run(
          'curl',
          [
            '-s',
            '-g',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            '-m',
            String(hc.timeoutSeconds),
            `http://${host}:${port}${hc.path ?? '/'}`,
          ],
          {
            netns: t.agent.netns,
            timeoutMs: hc.timeoutSeconds * 1000 + 1000,
          },
        );
        const status = Number(stdout);
        if (status < 200 || status >= 400) throw new Error(`HTTP ${stdout}`);
      }
      ok = true;
    } catch (err) {
      cause = (err as Error).message.split('\n')[0]!;
    }
    if (!this.tasks.has(t.id) || t.state !== 'TASK_RUNNING') return;
    const prev = t.health?.[index];
    const stamp = now();
    const next: HealthResult = ok
      ? {
          alive: true,
          consecutiveFailures: 0,
          firstSuccess: prev?.firstSuccess ?? stamp,
          lastSuccess: stamp,
          ...(prev?.lastFailure && { lastFailure: prev.lastFailure }),
          taskId: t.id,
        }
      : {
          alive: false,
          consecutiveFailures: (prev?.consecutiveFailures ?? 0) + 1,
          ...(prev?.firstSuccess && { firstSuccess: prev.firstSuccess }),
          ...(prev?.lastSuccess && { lastSuccess: prev.lastSuccess }),
          lastFailure: stamp,
          lastFailureCause: cause,
          taskId: t.id,
        };
    t.health = [...(t.health ?? [])];
    t.health[index] = next;
    if (prev?.alive !== next.alive) {
      this.emit('health_status_changed_event', {
        appId: t.appId,
        taskId: t.id,
        instanceId: t.id,
        version: t.version,
        alive: next.alive,
      });
      t.statuses.push({ state: t.state, timestamp: Date.now() / 1000, healthy: next.alive });
    }
    const inGrace =
      Date.now() - Date.parse(t.startedAt!) < hc.gracePeriodSeconds * 1000 && !prev?.firstSuccess;
    if (
      !ok &&
      !inGrace &&
      hc.maxConsecutiveFailures > 0 &&
      next.consecutiveFailures >= hc.maxConsecutiveFailures
    ) {
      this.o.log.warn({ task: t.id, cause }, 'task unhealthy; killing it for replacement');
      this.emit('unhealthy_task_kill_event', {
        appId: t.appId,
        taskId: t.id,
        version: t.version,
        reason: cause,
        host: t.agent.ip,
        slaveId: this.agentIds.get(t.agent.name),
      });
      void this.kill(t);
    }
  }
}
