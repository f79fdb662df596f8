// Polls the leading Mesos master's `/master/state` as Mesos-DNS does (specs/mesos-dns.md §2.2–2.3):
// try the first master of the list, then the others in order; follow the state's `leader` once
// (using the port of the master just contacted); on any failure keep the last good state.
import type { Logger } from 'pino';
import { parseMesosState, type MesosState } from './mesos-state.js';
import { authFetch, type HttpAuth } from './auth.js';

export interface MesosStatePollerOptions {
  /** Masters as `host:port`, `[v6]:port` or `http(s)://host:port`; the first is tried first. */
  readonly masters: readonly string[];
  readonly refreshMs: number;
  /** Per-request timeout (Mesos-DNS `StateTimeoutSeconds`). */
  readonly timeoutMs?: number;
  readonly log: Logger;
  /** `https` when the masters speak TLS (Mesos-DNS `MesosHTTPSOn`); ignored for URL entries. */
  readonly scheme?: 'http' | 'https';
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Credentials for Mesos (basic auth or a DC/OS service account; strict mode, Enterprise). */
  readonly auth?: HttpAuth;
}

export interface StateMeta {
  /** The `host:port` the state was read from. */
  readonly master: string;
  /** Wall-clock milliseconds of the read. */
  readonly at: number;
}

export type StateListener = (state: MesosState, meta: StateMeta) => void;

interface Endpoint {
  readonly base: string;
  readonly host: string;
  readonly port: number;
}

/** Splits a master entry; throws naming the entry when it is not host:port or a URL. */
export function parseMasterEntry(entry: string, scheme: 'http' | 'https' = 'http'): Endpoint {
  const text = entry.trim();
  const withScheme = /^https?:\/\//.test(text) ? text : `${scheme}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`master "${entry}" is not host:port or an http(s) URL`);
  }
  const port = url.port === '' ? 5050 : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new Error(`master "${entry}" has no host`);
  return { base: `${url.protocol}//${url.host}`, host, port };
}

/** The host of a libprocess pid (`master@10.0.0.1:5050`, `slave(1)@[fd00::1]:5051`). */
export function pidHost(pid: string | undefined): string | undefined {
  const at = pid?.split('@')[1];
  if (!at) return undefined;
  const m = /^\[([^\]]+)\]:\d+$/.exec(at) ?? /^([^:]+):\d+$/.exec(at);
  return m?.[1];
}

/** The leader's host from a state's `leader` pid. */
export const leaderHost = pidHost;

export class MesosStatePoller {
  private readonly endpoints: Endpoint[];
  private readonly listeners = new Set<StateListener>();
  private last: { state: MesosState; meta: StateMeta } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failures = 0;

  constructor(private readonly opts: MesosStatePollerOptions) {
    if (opts.masters.length === 0) throw new Error('masters: at least one master is needed');
    this.endpoints = opts.masters.map((m) => parseMasterEntry(m, opts.scheme));
  }

  /** Polls now and then every `refreshMs`; loads never overlap. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = (): void => {
      this.running = this.pollOnce()
        .then(() => undefined)
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.refreshMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  onState(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  latest(): { state: MesosState; meta: StateMeta } | undefined {
    return this.last;
  }

  /** One refresh; resolves true when a new state was delivered, false when the old one is kept. */
  async pollOnce(): Promise<boolean> {
    let lastError: unknown;
    for (const ep of this.endpoints) {
      try {
        const got = await this.tryMaster(ep);
        this.last = got;
        if (this.failures > 0) this.opts.log.info({ master: got.meta.master }, 'Mesos state reachable again');
        this.failures = 0;
        for (const l of this.listeners) {
          try {
            l(got.state, got.meta);
          } catch (err) {
            this.opts.log.error({ err }, 'Mesos state listener failed');
          }
        }
        return true;
      } catch (err) {
        lastError = err;
      }
    }
    this.failures++;
    // Every failure is logged at first, then one in ten, so an outage does not flood the log.
    if (this.failures <= 3 || this.failures % 10 === 0) {
      this.opts.log.warn(
        { err: errorMessage(lastError), failures: this.failures, masters: this.opts.masters },
        this.last ? 'no Mesos master answered; keeping old state' : 'no Mesos master answered yet',
      );
    }
    return false;
  }

  private async tryMaster(ep: Endpoint): Promise<{ state: MesosState; meta: StateMeta }> {
    const state = await this.fetchState(ep.base);
    const leader = leaderHost(state.leader);
    if (!leader) throw new Error(`${ep.base}: fetched state does not contain leader information`);
    if (sameHost(leader, ep.host))
      return { state, meta: { master: hostPort(ep.host, ep.port), at: Date.now() } };
    // Not the leader: ask the leader once, on the port of the master we contacted.
    const base = `${ep.base.split('//')[0]}//${leader.includes(':') ? `[${leader}]` : leader}:${ep.port}`;
    const fromLeader = await this.fetchState(base);
    return { state: fromLeader, meta: { master: hostPort(leader, ep.port), at: Date.now() } };
  }

  private async fetchState(base: string): Promise<MesosState> {
    const res = await authFetch(this.opts.auth, `${base}/master/state`, {
      headers: { 'user-agent': 'dcnet', accept: 'application/json', ...this.opts.headers },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    }).catch((err: unknown) => {
      throw new Error(`${base}: ${errorMessage(err)}`);
    });
    if (res.status === 401 || res.status === 403)
      throw new Error(
        `${base}: HTTP ${res.status}: ${this.opts.auth ? `refused ${this.opts.auth.describe}` : 'Mesos asks for credentials (--mesos-credentials)'}`,
      );
    const text = await res.text();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`${base}: HTTP ${res.status}, body is not JSON`);
    }
    try {
      return parseMesosState(doc);
    } catch (err) {
      throw new Error(`${base}: ${errorMessage(err)}`);
    }
  }
}

const sameHost = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const hostPort = (h: string, p: number): string => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
