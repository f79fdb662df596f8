// The `dcnet lb` controller: Marathon state in, HAProxy config out. A single worker runs resyncs
// (fetch → render → apply) and reloads; events, reconnects, SIGHUP and a timer only set flags, so
// any number of triggers during one resync collapse into one more (Marathon-LB's processor,
// specs/marathon-lb.md §1.2.3). Membership-only changes go through the Runtime API; anything else
// is validated with `haproxy -c` and reloaded; an invalid config never replaces the running one.
import type { HttpAuth } from '../cluster/index.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { chmod, mkdir, readFile, rename, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { parseConfig, planRuntime, type ConfigModel, type RuntimePlan } from './config-model.js';
import { Haproxy, ReloadError } from './haproxy.js';
import { parseApps, type MarathonApp } from './marathon.js';
import { EventStream, MarathonClient } from './marathon-client.js';
import { createLbMetrics, type LbMetrics } from './metrics.js';
import { renderConfig, type RenderOptions, type RenderResult } from './render.js';
import { runtimeCommand, runtimeOk } from './runtime.js';
import { buildServices, hostsToResolve, type ServiceOptions } from './services.js';
import type { Templater } from './templates.js';

export interface ControllerOptions {
  readonly marathon: readonly string[];
  /** Credentials for Marathon (basic auth or a DC/OS service account). */
  readonly marathonAuth?: HttpAuth;
  readonly log: Logger;
  readonly templater: Templater;
  readonly haproxy: Haproxy;
  readonly configPath: string;
  /** Render options except `exclude` (managed here). */
  readonly render: Omit<RenderOptions, 'exclude'>;
  readonly services: Omit<ServiceOptions, 'hosts' | 'healthCache'>;
  readonly socketPath: string;
  /** Use the Runtime API for membership changes (default true). */
  readonly runtimeApi?: boolean;
  readonly skipValidation?: boolean;
  readonly resyncIntervalMs?: number;
  readonly archiveVersions?: number;
  readonly maxBackoffS?: number;
  readonly metrics?: LbMetrics;
  /** Subscribe to /v2/events (default true). */
  readonly events?: boolean;
}

export interface LbStatus {
  lastResync?: string;
  lastError?: string;
  excluded: { appId: string; error: string }[];
  reloads: number;
  reloadsAvoided: number;
  pendingRemovals: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Applied {
  readonly text: string;
  readonly model: ConfigModel;
  readonly domainMap: string;
  readonly appMap: string;
}

/** Retries of a config HAProxy could not load: 2 s, doubling up to a minute (each failed
 *  attempt pauses the listeners for a moment while the new process tries). */
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 60_000;

/** Files that may hold userlist password hashes: owner-only. */
async function writePrivate(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Task states after which a task gets no new requests (Marathon-LB skips them at the next resync). */
const LEAVING = new Set([
  'TASK_KILLING',
  'TASK_KILLED',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

export class LbController {
  readonly metrics: LbMetrics;
  readonly status: LbStatus = { excluded: [], reloads: 0, reloadsAvoided: 0, pendingRemovals: 0 };
  private readonly client: MarathonClient;
  private events: EventStream | undefined;
  private pendingReset = false;
  private pendingReload = false;
  private wake: (() => void) | undefined;
  private stopped = false;
  private worker: Promise<void> | undefined;
  private applied: Applied | undefined;
  /** The config whose reload HAProxy refused, not tried again before `retryAt`. */
  private failedReload: { key: string; retryAt: number; delayMs: number } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly healthCache = new Map<string, boolean>();
  /** Apps `haproxy -c` blamed, with the definition they were blamed for. */
  private readonly blamed = new Map<string, { fingerprint: string; error: string }>();
  /** Task host names → IPv4, re-resolved after a minute (Marathon-LB cached forever, §1.13 quirk 12). */
  private readonly dnsCache = new Map<string, { ip: string; at: number }>();
  /** Servers put in maintenance that HAProxy would not delete yet (live connections). */
  private removals: { backend: string; server: string }[] = [];
  /** `backend/server` put in maintenance by a leaving-task event, until the next resync settles it. */
  /** Early drains by server: when (in fetch order) and the runtime command itself, which a
   *  settle must wait for — on another socket connection a later `ready` could overtake it. */
  private readonly drained = new Map<string, { readonly at: number; readonly sent: Promise<unknown> }>();
  /** Orders drains and fetches: a drain settles only in a resync that fetched after it. */
  private seq = 0;
  private fetchedAt = 0;
  private removalTimer: NodeJS.Timeout | undefined;
  /** Resolves when the first resync has finished (either way). */
  readonly firstSync: Promise<void>;
  private firstSyncDone!: () => void;

  constructor(private readonly o: ControllerOptions) {
    this.metrics = o.metrics ?? createLbMetrics();
    this.client = new MarathonClient(o.marathon, undefined, o.marathonAuth);
    this.firstSync = new Promise((r) => (this.firstSyncDone = r));
  }

  get configText(): string {
    return this.applied?.text ?? '';
  }
  get maps(): { domain: string; app: string } {
    return { domain: this.applied?.domainMap ?? '', app: this.applied?.appMap ?? '' };
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.o.configPath), { recursive: true });
    // A crashed HAProxy is started again from the current config at the next resync, soon.
    this.o.haproxy.onUnexpectedExit = () => {
      if (!this.stopped) setTimeout(() => this.requestReset('haproxy exited'), 1000).unref();
    };
    this.worker = this.loop();
    if (this.o.events !== false) {
      this.events = new EventStream({
        urls: this.o.marathon,
        ...(this.o.marathonAuth && { auth: this.o.marathonAuth }),
        log: this.o.log,
        onConnect: () => this.requestReset('event stream (re)connected'),
        onEvent: (type, e) => {
          if (type === 'status_update_event') void this.drainNow(e);
          this.requestReset();
        },
        ...(this.o.maxBackoffS !== undefined && { maxBackoffS: this.o.maxBackoffS }),
      });
      this.events.start();
    }
    this.requestReset('start');
  }

  /** Full resync (events, reconnect, SIGHUP, `/_mlb_signal/hup`). */
  requestReset(why?: string): void {
    if (why) this.o.log.debug({ why }, 'resync requested');
    this.pendingReset = true;
    this.wake?.();
  }

  /** A task going away (TASK_KILLING first): its servers stop getting new requests right now,
   *  before the resync that follows removes them; its in-flight requests finish. */
  async drainNow(e: Record<string, unknown>): Promise<void> {
    const status = e.taskStatus;
    if (typeof status !== 'string' || !LEAVING.has(status)) return;
    if (!this.applied || !this.o.haproxy.running || this.o.runtimeApi === false) return;
    const appId = typeof e.appId === 'string' ? e.appId : undefined;
    if (!appId) return;
    const prefix = `${appId.replace(/^\//, '').replace(/\//g, '_')}_`;
    const ips = new Set(
      (Array.isArray(e.ipAddresses) ? e.ipAddresses : [])
        .map((a) => (a as { ipAddress?: unknown }).ipAddress)
        .filter((x): x is string => typeof x === 'string'),
    );
    const host =
      typeof e.host === 'string' ? (isIP(e.host) ? e.host : this.dnsCache.get(e.host)?.ip) : undefined;
    const ports = new Set(
      (Array.isArray(e.ports) ? e.ports : []).filter((p): p is number => typeof p === 'number'),
    );
    for (const [backend, b] of this.applied.model.backends) {
      if (!backend.startsWith(prefix)) continue;
      for (const srv of b.servers.values()) {
        const i = srv.addr.lastIndexOf(':');
        const ip = srv.addr.slice(0, i);
        const port = Number(srv.addr.slice(i + 1));
        // Container addresses are the task's own; agent addresses also need the task's host port.
        const mine = ips.has(ip)
          ? !(ip === host && ports.size > 0 && !ports.has(port))
          : ip === host && ports.has(port);
        if (!mine) continue;
        try {
          const sent = runtimeOk(this.o.socketPath, `set server ${backend}/${srv.name} state maint`);
          this.drained.set(`${backend}/${srv.name}`, { at: ++this.seq, sent: sent.catch(() => {}) });
          await sent;
          this.metrics.runtimeCommands.inc({ kind: 'drain' });
          this.o.log.debug({ backend, server: srv.name, status }, 'draining a leaving task');
        } catch (err) {
          this.o.log.debug({ err: (err as Error).message }, 'could not drain a leaving task early');
        }
      }
    }
  }

  /** After a resync: a server drained early that Marathon still lists (the task did not leave
   *  after all) serves again; the others were removed by the resync. */
  private async settleDrained(): Promise<void> {
    if (this.drained.size === 0) return;
    const model = this.applied?.model;
    let later = false;
    for (const [key, { at, sent }] of [...this.drained]) {
      // Drained after this resync fetched its state: the next resync decides.
      if (at > this.fetchedAt) {
        later = true;
        continue;
      }
      this.drained.delete(key);
      await sent;
      const [backend, server] = key.split('/') as [string, string];
      const line = model?.backends.get(backend)?.servers.get(server);
      if (!line || /(^|\s)disabled(\s|$)/.test(line.options)) continue;
      await runtimeOk(this.o.socketPath, `set server ${backend}/${server} state ready`).catch(() => {});
    }
    if (later) this.requestReset('settle early drains');
  }

  /** Validate and reload the config on disk (SIGUSR1, `/_mlb_signal/usr1`). */
  requestReload(): void {
    this.pendingReload = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.events?.stop();
    clearTimeout(this.removalTimer);
    clearTimeout(this.retryTimer);
    this.wake?.();
    await this.worker;
    await this.o.haproxy.stop();
  }

  private async loop(): Promise<void> {
    const interval = this.o.resyncIntervalMs ?? 300_000;
    while (!this.stopped) {
      if (!this.pendingReset && !this.pendingReload) {
        const timedOut = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), interval);
          this.wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        this.wake = undefined;
        if (this.stopped) return;
        if (timedOut) this.pendingReset = true;
      }
      const reset = this.pendingReset;
      const reload = this.pendingReload;
      this.pendingReset = false;
      this.pendingReload = false;
      try {
        if (reset) await this.resync();
        else if (reload) await this.reloadFromDisk();
      } catch (err) {
        this.status.lastError = (err as Error).message;
        this.o.log.error({ err: (err as Error).message }, reset ? 'resync failed' : 'reload failed');
        this.metrics.resets.inc({ outcome: 'error' });
      } finally {
        this.firstSyncDone();
      }
    }
  }

  private async resolveHosts(apps: readonly MarathonApp[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const now = Date.now();
    for (const h of hostsToResolve(apps)) {
      const hit = this.dnsCache.get(h);
      if (hit && now - hit.at < 60_000) {
        out.set(h, hit.ip);
        continue;
      }
      try {
        const ip = (await lookup(h, { family: 4 })).address;
        this.dnsCache.set(h, { ip, at: now });
        out.set(h, ip);
      } catch {
        // Keep the last answer through a DNS outage rather than dropping the tasks.
        if (hit) out.set(h, hit.ip);
        else this.o.log.warn({ host: h }, 'task host does not resolve; its tasks are skipped');
      }
    }
    return out;
  }

  /** Renders from Marathon apps; `exclude` are apps HAProxy rejected. */
  render(apps: readonly MarathonApp[], hosts: Map<string, string>, exclude: Set<string>): RenderResult {
    const t0 = performance.now();
    const { services, errors } = buildServices(apps, {
      ...this.o.services,
      hosts,
      healthCache: this.healthCache,
    });
    const r = renderConfig(services, this.o.templater, { ...this.o.render, exclude });
    // Forget health verdicts of tasks that are gone.
    if (this.healthCache.size > 0) {
      const live = new Set<string>();
      for (const a of apps) for (const t of a.tasks ?? []) live.add(t.id);
      for (const id of this.healthCache.keys()) if (!live.has(id)) this.healthCache.delete(id);
    }
    this.metrics.renderSeconds.observe((performance.now() - t0) / 1000);
    return { ...r, errors: [...errors, ...r.errors] };
  }

  async resync(): Promise<void> {
    this.fetchedAt = ++this.seq;
    const body = await this.client.apps();
    const parsed = parseApps(body);
    const hosts = await this.resolveHosts(parsed.apps);
    // Apps HAProxy rejected stay out until their definition changes (no retry-and-reload loop).
    // Keyed by the id the config uses: apps of one zdd deployment group render as `/<group>`.
    const fingerprints = new Map<string, string>();
    for (const a of parsed.apps) {
      const group = a.labels?.HAPROXY_DEPLOYMENT_GROUP;
      const id = group ? `/${group}` : a.id;
      fingerprints.set(id, (fingerprints.get(id) ?? '') + fingerprint(a));
    }
    for (const [id, b] of this.blamed) if (fingerprints.get(id) !== b.fingerprint) this.blamed.delete(id);
    const exclude = new Set(this.blamed.keys());
    let r = this.render(parsed.apps, hosts, exclude);
    const parseErrors = parsed.errors.map((e) => ({
      appId: e.split(':')[0]!.replace(/^app /, ''),
      error: e,
    }));
    const blamedList = (): { appId: string; error: string }[] =>
      [...this.blamed].map(([appId, b]) => ({ appId, error: b.error }));
    let excluded = [...parseErrors, ...r.errors, ...blamedList()];
    if (
      this.applied &&
      this.o.haproxy.running &&
      r.text === this.applied.text &&
      r.domainMap === this.applied.domainMap &&
      r.appMap === this.applied.appMap
    ) {
      this.failedReload = undefined;
      await this.settleDrained();
      this.finish(excluded, 'unchanged');
      return;
    }
    // Membership-only change: the Runtime API, no reload.
    if (
      this.applied &&
      this.o.haproxy.running &&
      this.o.runtimeApi !== false &&
      r.domainMap === this.applied.domainMap &&
      r.appMap === this.applied.appMap
    ) {
      const model = parseConfig(r.text);
      const plan = planRuntime(this.applied.model, model);
      if (!('reload' in plan)) {
        if (await this.applyRuntime(plan)) {
          this.applied = { text: r.text, model, domainMap: r.domainMap, appMap: r.appMap };
          await this.writeConfig(r.text, r.domainMap, r.appMap, false);
          this.status.reloadsAvoided++;
          this.metrics.reloadsAvoided.inc();
          this.o.log.info(
            { added: plan.add.length, removed: plan.remove.length, reweighted: plan.weights.length },
            'backends updated through the Runtime API',
          );
          await this.settleDrained();
          this.finish(excluded, 'ok', model);
          return;
        }
      } else this.o.log.debug({ why: plan.reload }, 'reload needed');
    }
    const failed = this.failedReload;
    if (failed && failed.key === configKey(r) && Date.now() < failed.retryAt)
      throw new Error(
        `HAProxy could not load this config at the last reload; the last good one keeps serving; retrying in ${Math.ceil((failed.retryAt - Date.now()) / 1000)} s`,
      );
    // Validate; blame apps by the lines haproxy -c names and retry without them.
    if (!this.o.skipValidation) {
      for (let round = 0; ; round++) {
        const v = await this.validateText(r.text, r.domainMap, r.appMap);
        if (v.ok) break;
        this.metrics.invalidConfigs.inc();
        const culprits = blame(v.output, r.ownerOfLine).filter((a) => !exclude.has(a));
        if (culprits.length === 0 || round >= 5) {
          await writePrivate(join(dirname(this.o.configPath), 'haproxy_tmp_conf_fail'), r.text);
          throw new Error(`haproxy -c rejected the config; keeping the running one: ${firstLines(v.output)}`);
        }
        for (const c of culprits) {
          exclude.add(c);
          this.blamed.set(c, {
            fingerprint: fingerprints.get(c) ?? '',
            error: `haproxy -c: ${linesFor(v.output, r.ownerOfLine, c)}`,
          });
        }
        this.o.log.warn({ apps: culprits }, 'invalid configuration caused by these apps; left out');
        r = this.render(parsed.apps, hosts, exclude);
        excluded = [...parseErrors, ...r.errors, ...blamedList()];
      }
    }
    const model = parseConfig(r.text);
    const previous = this.applied;
    await this.writeConfig(r.text, r.domainMap, r.appMap, true);
    try {
      await this.o.haproxy.reload();
    } catch (err) {
      this.metrics.reloads.inc({ outcome: 'failed' });
      throw await this.failedToLoad(previous, r, err as Error);
    }
    this.applied = { text: r.text, model, domainMap: r.domainMap, appMap: r.appMap };
    this.failedReload = undefined;
    this.removals = [];
    this.status.reloads++;
    this.metrics.reloads.inc({ outcome: 'ok' });
    this.o.log.info({ services: r.backends.size }, 'haproxy reloaded');
    await this.settleDrained();
    this.finish(excluded, 'ok', model);
  }

  /** A reload HAProxy refused after `haproxy -c` passed (a bind that cannot bind, say): the last
   *  good config goes back on disk (the old workers still run it; a restarted master loads it
   *  too), the refused one is kept as `haproxy_reload_fail`, and a resync retries it later. */
  private async failedToLoad(previous: Applied | undefined, r: RenderResult, err: Error): Promise<Error> {
    const dir = dirname(this.o.configPath);
    await writePrivate(join(dir, 'haproxy_reload_fail'), r.text);
    if (previous) {
      await this.writeConfig(previous.text, previous.domainMap, previous.appMap, false);
      if (!this.o.haproxy.running)
        await this.o.haproxy.start().catch((e: Error) => {
          this.o.log.error({ err: e.message }, 'the last good config did not start either');
        });
    }
    const key = configKey(r);
    const delayMs =
      this.failedReload?.key === key ? Math.min(this.failedReload.delayMs * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
    this.failedReload = { key, retryAt: Date.now() + delayMs, delayMs };
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.requestReset('retry after a failed reload'), delayMs);
    this.retryTimer.unref();
    const alerts = err instanceof ReloadError ? err.alerts : [];
    // The alerts name config lines (`Binding [haproxy.cfg:15] for frontend …`): say whose.
    const apps = blame(alerts.map((a) => `[ALERT] ${a}`).join('\n'), r.ownerOfLine);
    return new Error(
      [
        'haproxy could not load the new config',
        ...(previous ? ['the last good config is restored and keeps serving'] : []),
        ...(apps.length > 0 ? [`caused by ${apps.join(', ')}`] : []),
        `retrying in ${delayMs / 1000} s: ${alerts.length > 0 ? alerts.join(' | ') : err.message}`,
      ]
        .join('; ')
        .slice(0, 1000),
    );
  }

  private finish(excluded: { appId: string; error: string }[], outcome: string, model?: ConfigModel): void {
    for (const e of excluded)
      if (!this.status.excluded.some((x) => x.appId === e.appId && x.error === e.error))
        this.o.log.warn({ app: e.appId, error: e.error }, 'app left out of the config');
    this.status.excluded = excluded;
    this.status.lastResync = new Date().toISOString();
    delete this.status.lastError;
    this.metrics.resets.inc({ outcome });
    this.metrics.appErrors.set(excluded.length);
    if (model) {
      this.metrics.services.set(model.backends.size);
      let n = 0;
      for (const b of model.backends.values()) n += b.servers.size;
      this.metrics.servers.set(n);
    }
  }

  private async validateText(
    text: string,
    domainMap: string,
    appMap: string,
  ): Promise<{ ok: boolean; output: string }> {
    const dir = dirname(this.o.configPath);
    const tmp = `${this.o.configPath}.tmp`;
    let body = text;
    if (this.o.render.haproxyMap) {
      await writePrivate(join(dir, 'domain2backend.map.tmp'), domainMap);
      await writePrivate(join(dir, 'app2backend.map.tmp'), appMap);
      body = text
        .replaceAll(`${dir}/domain2backend.map`, `${dir}/domain2backend.map.tmp`)
        .replaceAll(`${dir}/app2backend.map`, `${dir}/app2backend.map.tmp`);
    }
    await writePrivate(tmp, body);
    return this.o.haproxy.validate(tmp);
  }

  /** Writes config (and maps), keeping `archiveVersions` previous configs as `<cfg>.1…N`. */
  private async writeConfig(
    text: string,
    domainMap: string,
    appMap: string,
    archive: boolean,
  ): Promise<void> {
    const path = this.o.configPath;
    const dir = dirname(path);
    if (archive) {
      const n = this.o.archiveVersions ?? 5;
      for (let i = n - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
      if (n > 0) await copyFile(path, `${path}.1`).catch(() => {});
    }
    await writePrivate(join(dir, 'domain2backend.map'), this.o.render.haproxyMap ? domainMap : '');
    await writePrivate(join(dir, 'app2backend.map'), this.o.render.haproxyMap ? appMap : '');
    await writePrivate(`${path}.new`, text);
    await rename(`${path}.new`, path);
  }

  private async reloadFromDisk(): Promise<void> {
    const text = await readFile(this.o.configPath, 'utf8');
    const v = await this.o.haproxy.validate(this.o.configPath);
    if (!v.ok) throw new Error(`haproxy -c rejected ${this.o.configPath}: ${firstLines(v.output)}`);
    await this.o.haproxy.reload();
    this.status.reloads++;
    this.metrics.reloads.inc({ outcome: 'ok' });
    if (this.applied) this.applied = { ...this.applied, text, model: parseConfig(text) };
  }

  /** Adds new servers, drains removed ones; false (→ reload) if HAProxy refused a command. */
  private async applyRuntime(plan: RuntimePlan): Promise<boolean> {
    const sock = this.o.socketPath;
    try {
      for (const { backend, server } of plan.remove) {
        await runtimeOk(sock, `set server ${backend}/${server} state maint`);
        this.metrics.runtimeCommands.inc({ kind: 'remove' });
      }
      for (const { backend, server, weight } of plan.weights) {
        await runtimeOk(sock, `set server ${backend}/${server} weight ${weight}`);
        this.metrics.runtimeCommands.inc({ kind: 'weight' });
      }
      for (const { backend, server } of plan.add) {
        // A drained server still waiting for deletion under the same name: finish it first.
        if (this.removals.some((x) => x.backend === backend && x.server === server.name)) {
          await this.tryDelete({ backend, server: server.name }, 20);
          this.removals = this.removals.filter((x) => !(x.backend === backend && x.server === server.name));
        }
        const opts = server.options.replace(/(^|\s)disabled(\s|$)/, ' ').trim();
        await runtimeOk(sock, `add server ${backend}/${server.name} ${server.addr} ${opts}`.trim());
        if (/(^|\s)check(\s|$)/.test(opts)) await runtimeOk(sock, `enable health ${backend}/${server.name}`);
        if (!/(^|\s)disabled(\s|$)/.test(server.options))
          await runtimeOk(sock, `enable server ${backend}/${server.name}`);
        this.metrics.runtimeCommands.inc({ kind: 'add' });
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'Runtime API refused a change; reloading instead');
      return false;
    }
    for (const r of plan.remove) if (!(await this.tryDelete(r, 0))) this.removals.push(r);
    this.status.pendingRemovals = this.removals.length;
    this.scheduleRemovals();
    return true;
  }

  /** `del server` works once the server has no connections left. */
  private async tryDelete(r: { backend: string; server: string }, retries: number): Promise<boolean> {
    for (let i = 0; ; i++) {
      const out = await runtimeCommand(this.o.socketPath, `del server ${r.backend}/${r.server}`).catch(
        (e: Error) => e.message,
      );
      if (/Server deleted|No such server|No such backend/i.test(out)) return true;
      if (i >= retries) return false;
      await sleep(100);
    }
  }

  private scheduleRemovals(): void {
    if (this.removals.length === 0 || this.removalTimer) return;
    this.removalTimer = setTimeout(() => {
      this.removalTimer = undefined;
      void (async () => {
        const left: typeof this.removals = [];
        for (const r of this.removals) if (!(await this.tryDelete(r, 0))) left.push(r);
        this.removals = left;
        this.status.pendingRemovals = left.length;
        this.scheduleRemovals();
      })();
    }, 1000);
  }
}

/** What a reload loads: the config and its maps. */
const configKey = (r: Pick<RenderResult, 'text' | 'domainMap' | 'appMap'>): string =>
  `${r.text}\0${r.domainMap}\0${r.appMap}`;

/** An app's definition without its tasks: a change means it may render differently. */
const fingerprint = (a: MarathonApp): string => JSON.stringify({ ...a, tasks: undefined });

/** App ids owning the lines that `haproxy -c` complains about (`[file:LINE]`). */
export function blame(output: string, ownerOfLine: (n: number) => string | undefined): string[] {
  const apps = new Set<string>();
  // Warnings name lines too; only alerts make the config invalid.
  for (const line of output.split('\n').filter((l) => l.includes('[ALERT]')))
    for (const m of line.matchAll(/:(\d+)\]/g)) {
      const owner = ownerOfLine(Number(m[1]) - 1);
      if (owner) apps.add(owner);
    }
  return [...apps];
}

function linesFor(output: string, ownerOfLine: (n: number) => string | undefined, app: string): string {
  return output
    .split('\n')
    .filter((l) => l.includes('[ALERT]'))
    .filter((l) => [...l.matchAll(/:(\d+)\]/g)].some((m) => ownerOfLine(Number(m[1]) - 1) === app))
    .map((l) => l.replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '').trim())
    .join(' | ')
    .slice(0, 500);
}

const firstLines = (s: string): string =>
  s
    .split('\n')
    .filter((l) => /ALERT|error/i.test(l))
    .slice(0, 3)
    .join(' | ')
    .slice(0, 600) || s.slice(0, 300);
