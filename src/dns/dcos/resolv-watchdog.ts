// The Spartan watchdog (dcos-spartan-watchdog): the node's resolv.conf names the node-local DNS
// while it answers `ready.spartan`, and the upstream resolvers while it does not, so that a node
// whose dcos-dns is down still resolves names outside the cluster. Every write is atomic (a
// temporary file in the same directory, renamed over the target), so a reader sees the old file
// or the new one, never an empty or half-written one. The file as it was before dcnet is saved
// once beside it (`<path>.dcnet-orig`); its search/options lines are kept in both modes.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import dnsPacket from 'dns-packet';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { hostAddresses } from '../server/index.js';
import {
  fallbackNameservers,
  parseResolvConf,
  renderResolvConf,
  type ParsedResolvConf,
  type ResolvConfMode,
} from './resolv-conf.js';

export interface ResolvConfWatchdogOptions {
  readonly log: Logger;
  /** The resolv.conf to manage (e.g. /etc/resolv.conf, or /etc/netns/<ns>/resolv.conf). */
  readonly path: string;
  /** The node-local DNS addresses written in local mode (port 53). */
  readonly local: readonly string[];
  /** Fallback resolvers (the agent's --dns-upstream); default: the original file's. */
  readonly upstreams?: readonly string[];
  /** Where `ready.spartan` is asked (the first local address, port 53). */
  readonly probe: { readonly host: string; readonly port: number };
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly registry?: Registry;
  /** Called after every write with the mode written. */
  readonly onMode?: (mode: ResolvConfMode) => void;
}

/** Asks `ready.spartan` over UDP; true when an A record comes back in time. */
export async function askReadySpartan(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const id = randomInt(0, 0x10000);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'ready.spartan', class: 'IN' }],
  });
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      sock.on('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      sock.on('message', (msg) => {
        try {
          const p = dnsPacket.decode(msg);
          if (p.id !== id) return;
          clearTimeout(timer);
          resolve(((p.flags ?? 0) & 0xf) === 0 && (p.answers ?? []).some((a) => a.type === 'A'));
        } catch {
          // not a DNS answer: keep waiting for one until the timeout
        }
      });
      sock.send(query, port, host);
    });
  } finally {
    sock.close();
  }
}

export class ResolvConfWatchdog {
  private mode: ResolvConfMode | undefined;
  private original: ParsedResolvConf = { nameservers: [], kept: [], generated: false };
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;
  private readonly switches: Counter<'to'> | undefined;
  private readonly modeGauge: Gauge<'mode'> | undefined;
  private readonly probeFailures: Counter | undefined;

  constructor(private readonly o: ResolvConfWatchdogOptions) {
    if (o.registry) {
      this.switches = new Counter({
        name: 'dcnet_dns_resolv_conf_switches_total',
        help: 'resolv.conf rewrites by the watchdog, by the mode switched to (local, upstream)',
        labelNames: ['to'],
        registers: [o.registry],
      });
      this.modeGauge = new Gauge({
        name: 'dcnet_dns_resolv_conf_mode',
        help: '1 for the mode resolv.conf is in (local: the node DNS; upstream: the fallback)',
        labelNames: ['mode'],
        registers: [o.registry],
      });
      this.probeFailures = new Counter({
        name: 'dcnet_dns_ready_spartan_failures_total',
        help: 'ready.spartan probes of the node-local DNS that failed or timed out',
        registers: [o.registry],
      });
    }
  }

  get originalPath(): string {
    return `${this.o.path}.dcnet-orig`;
  }

  /** The current mode (undefined before the first write). */
  get currentMode(): ResolvConfMode | undefined {
    return this.mode;
  }

  /** The resolvers the fallback file lists (also what the node DNS forwards to by default). */
  upstreams(): string[] {
    return fallbackNameservers(this.o.upstreams, this.original.nameservers, hostAddresses());
  }

  /**
   * Reads the file as it was before dcnet (saving it once if dcnet has not written it yet).
   * Call before the node DNS starts, so that its default upstreams are the original's.
   */
  async prepare(): Promise<void> {
    const current = await readFile(this.o.path, 'utf8').catch(() => undefined);
    if (current !== undefined && !parseResolvConf(current).generated) {
      try {
        await this.saveOriginal(current);
      } catch (err) {
        // Not fatal: its nameservers are still known for this run; the save is retried next start.
        this.original = parseResolvConf(current);
        this.o.log.error(
          { original: this.originalPath, err: (err as Error).message },
          'resolv.conf: could not save the file as it was before dcnet',
        );
        return;
      }
    }
    const saved = await readFile(this.originalPath, 'utf8').catch(() => undefined);
    this.original = parseResolvConf(saved ?? '');
    if (this.upstreams().length === 0)
      this.o.log.warn(
        { path: this.o.path, original: this.originalPath },
        'resolv.conf: no upstream resolvers (none given, none in the original file): the watchdog cannot fall back',
      );
  }

  /** Writes local mode (the node DNS must be listening), then checks every interval. */
  async start(): Promise<void> {
    try {
      await this.write('local', 'agent started: the node-local DNS is listening');
    } catch (err) {
      // The DNS serves regardless; every check tries the write again.
      this.o.log.error({ path: this.o.path, err: (err as Error).message }, 'resolv.conf: could not write');
    }
    this.schedule();
  }

  /** One probe and, when it says so, one switch (exported for tests and the timer). */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const ok = await askReadySpartan(this.o.probe.host, this.o.probe.port, this.o.timeoutMs);
      if (this.stopped) return;
      if (!ok) this.probeFailures?.inc();
      if (ok && this.mode !== 'local')
        await this.write('local', 'the node-local DNS answers ready.spartan again');
      else if (!ok && this.mode === 'local') {
        if (this.upstreams().length === 0)
          this.o.log.error(
            { probe: this.o.probe },
            'resolv.conf: the node-local DNS does not answer ready.spartan and there is no upstream to fall back to',
          );
        else
          await this.write(
            'upstream',
            `the node-local DNS did not answer ready.spartan within ${this.o.timeoutMs} ms`,
          );
      }
    } catch (err) {
      this.o.log.error({ path: this.o.path, err: (err as Error).message }, 'resolv.conf: check failed');
    } finally {
      this.checking = false;
    }
  }

  /** Stops checking; the node DNS stops with the agent, so the file goes to the upstreams. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.mode === 'local' && this.upstreams().length > 0)
      await this.write('upstream', 'agent stopping: the node-local DNS stops with it').catch((err: Error) =>
        this.o.log.error(
          { path: this.o.path, err: err.message },
          'resolv.conf: could not write the fallback',
        ),
      );
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().finally(() => this.schedule());
    }, this.o.intervalMs);
    this.timer.unref();
  }

  private async write(mode: ResolvConfMode, reason: string): Promise<void> {
    const nameservers = mode === 'local' ? [...this.o.local] : this.upstreams();
    const text = renderResolvConf({
      mode,
      nameservers,
      kept: this.original.kept,
      original: this.originalPath,
    });
    await atomicWrite(this.o.path, text);
    const from = this.mode;
    this.mode = mode;
    if (from !== undefined) this.switches?.inc({ to: mode });
    this.modeGauge?.set({ mode: 'local' }, mode === 'local' ? 1 : 0);
    this.modeGauge?.set({ mode: 'upstream' }, mode === 'upstream' ? 1 : 0);
    this.o.onMode?.(mode);
    const line = { path: this.o.path, from: from ?? 'unmanaged', to: mode, nameservers, reason };
    if (mode === 'upstream') this.o.log.warn(line, 'resolv.conf switched to the upstream resolvers');
    else this.o.log.info(line, 'resolv.conf switched to the node-local DNS');
  }

  /** Saves the pre-dcnet file once: link() refuses to replace an existing original. */
  private async saveOriginal(text: string): Promise<void> {
    const tmp = `${this.originalPath}.tmp-${process.pid}`;
    await writeFile(tmp, text, { mode: 0o644 });
    try {
      await link(tmp, this.originalPath);
      this.o.log.info({ original: this.originalPath }, 'resolv.conf: saved the file as it was before dcnet');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** Write to a temporary file beside `path`, then rename over it: readers never see a partial file. */
async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = `${path}.dcnet-tmp-${process.pid}`;
  try {
    await writeFile(tmp, text, { mode: 0o644, flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
