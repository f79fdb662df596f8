// Talking to Marathon as Marathon-LB does (specs/marathon-lb.md §1.2): a failover list of URLs
// (the last one that answered is tried first), `GET /v2/apps?embed=apps.tasks` for state, and the
// `/v2/events` stream as a trigger, reconnected with jittered backoff.
import type { Logger } from 'pino';
import { authFetch, type HttpAuth } from '../cluster/index.js';

export const RELEVANT_EVENTS = [
  'api_post_event',
  'health_status_changed_event',
  'status_update_event',
  'instance_health_changed_event',
  'app_terminated_event',
  'deployment_success',
  'deployment_step_success',
] as const;

export class MarathonClient {
  private urls: string[];
  constructor(
    urls: readonly string[],
    private readonly timeoutMs = 46_000,
    /** Marathon-LB's --auth-credentials / --dcos-auth-credentials. */
    private readonly auth?: HttpAuth,
  ) {
    this.urls = urls.map((u) => u.replace(/\/+$/, ''));
  }

  get current(): string {
    return this.urls[0]!;
  }

  async getJson(path: string): Promise<unknown> {
    const errors: string[] = [];
    for (let i = 0; i < this.urls.length; i++) {
      const base = this.urls[i]!;
      try {
        const res = await authFetch(this.auth, `${base}${path}`, {
          headers: { accept: 'application/json', 'user-agent': 'dcnet-lb' },
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (res.status === 401 || res.status === 403)
          throw new Error(
            `HTTP ${res.status}: ${this.auth ? `refused ${this.auth.describe}` : 'Marathon asks for credentials'}`,
          );
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const body = (await res.json()) as unknown;
        if (i > 0) this.urls = [...this.urls.slice(i), ...this.urls.slice(0, i)];
        return body;
      } catch (err) {
        errors.push(`${base}: ${(err as Error).message}`);
      }
    }
    throw new Error(`Marathon unreachable: ${errors.join('; ')}`);
  }

  apps(): Promise<unknown> {
    return this.getJson('/v2/apps?embed=apps.tasks&embed=apps.readiness');
  }
}

export interface EventStreamOptions {
  readonly urls: readonly string[];
  readonly log: Logger;
  /** Called on every (re)connect: a full resync is due. */
  readonly onConnect: () => void;
  /** Called for each relevant event. */
  readonly onEvent: (eventType: string, event: Record<string, unknown>) => void;
  readonly maxBackoffS?: number;
  readonly auth?: HttpAuth;
  /** Abort a stream silent for this long (Marathon-LB: < 1 byte/s for 300 s). */
  readonly idleTimeoutMs?: number;
}

/** The `/v2/events` subscription; `stop()` ends it. */
export class EventStream {
  private stopped = false;
  private abort: AbortController | undefined;
  private next = 0;
  connected = false;

  constructor(private readonly o: EventStreamOptions) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    let wait = 3;
    while (!this.stopped) {
      const base = this.o.urls[this.next++ % this.o.urls.length]!.replace(/\/+$/, '');
      const started = Date.now();
      try {
        await this.once(base);
      } catch (err) {
        if (!this.stopped)
          this.o.log.warn({ err: (err as Error).message, marathon: base }, 'event stream failed');
      }
      this.connected = false;
      if (this.stopped) return;
      wait = Date.now() - started > 600_000 ? 3 : Math.min(wait * 1.5, this.o.maxBackoffS ?? 300);
      await new Promise((r) => setTimeout(r, Math.random() * wait * 1000));
    }
  }

  private async once(base: string): Promise<void> {
    const q = RELEVANT_EVENTS.map((e) => `event_type=${e}`).join('&');
    const abort = new AbortController();
    this.abort = abort;
    const idleMs = this.o.idleTimeoutMs ?? 300_000;
    let idle = setTimeout(() => abort.abort(), idleMs);
    try {
      const res = await authFetch(this.o.auth, `${base}/v2/events?plan-format=light&${q}`, {
        headers: { accept: 'text/event-stream', 'cache-control': 'no-cache', 'user-agent': 'dcnet-lb' },
        signal: abort.signal,
      });
      if (res.status !== 200 || !res.body) throw new Error(`HTTP ${res.status}`);
      this.connected = true;
      this.o.log.info({ marathon: base }, 'event stream attached');
      this.o.onConnect();
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => abort.abort(), idleMs);
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          // A data payload may hold several events separated by CRLF, which also ends an SSE
          // line: a bare JSON line right after `data:` belongs to it.
          const data = line.startsWith('data: ') ? line.slice(6) : line.startsWith('{') ? line : undefined;
          if (data === undefined) continue;
          for (const part of data.split('\r\n')) {
            if (!part.trim()) continue;
            try {
              const e = JSON.parse(part) as { eventType?: unknown } & Record<string, unknown>;
              if (
                typeof e.eventType === 'string' &&
                (RELEVANT_EVENTS as readonly string[]).includes(e.eventType)
              )
                this.o.onEvent(e.eventType, e);
            } catch {
              this.o.log.debug({ line: part.slice(0, 200) }, 'unparsable event');
            }
          }
        }
      }
      throw new Error('stream ended');
    } finally {
      clearTimeout(idle);
    }
  }
}
