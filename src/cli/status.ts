// `dcnet status`: masters, leader, store health, agents and their publication, from any master.
import type { Command } from 'commander';
import type { ClusterStatus, PoolUsage } from '../overlay/index.js';
import type { ControlClient } from '../pki/index.js';
import { UsageError } from './usage-error.js';
import { addTlsOptions, checkScheme, controlPlaneTls, type TlsCliOptions } from './tls.js';

/** Another node's text on this terminal: JSON-escaped when it holds control or format characters,
 *  so no escape sequence or line break gets through. */
const shown = (text: string): string =>
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(text) ? JSON.stringify(text) : text;

type PoolCounts = PoolUsage['vtep']['ipv4'];
const poolLine = (what: string, c: PoolCounts): string =>
  `  ${what.padEnd(14)} ${`${c.subnet}${c.prefix !== undefined ? ` /${c.prefix}` : ''}`.padEnd(22)} ${c.used} used of ${c.size}, ${c.free} free${c.free === 0 ? '  EXHAUSTED' : ''}`;

/** The leader's pool counts (GET /overlay-master/pools), or why they are missing. */
export type PoolsAnswer = PoolUsage | { readonly error: string };

export function formatStatus(s: ClusterStatus, pools?: PoolsAnswer): string {
  const lines = ['masters:'];
  for (const m of s.masters ?? [s.self]) {
    lines.push(
      `  ${m.url === s.leader?.url ? '*' : ' '} ${m.url}${m.url === s.leader?.url ? '  (leader)' : ''}${m.url === s.self.url ? '  (answered)' : ''}`,
    );
  }
  if (!s.leader) lines.push('  no leader elected');
  lines.push(
    s.store.reachable
      ? `store: reachable, revision ${s.store.revision}`
      : `store: UNREACHABLE: ${s.store.error}`,
  );
  if (s.agents) {
    lines.push(`agents (${s.agents.length}):`);
    for (const a of s.agents) {
      lines.push(
        `  ${a.ip.padEnd(15)} vtep ${a.vtep.padEnd(15)} ${a.published ? `published (lease ${a.lease})` : 'NOT published (agent down longer than its grace period, or starting)'}`,
      );
      const st = a.status;
      if (!st) continue;
      if (st.resolv_conf === 'upstream')
        lines.push('      resolv.conf: UPSTREAM (the node DNS did not answer ready.spartan)');
      else if (st.resolv_conf !== undefined) lines.push(`      resolv.conf: ${st.resolv_conf}`);
      for (const o of st.overlays ?? [])
        lines.push(
          `      overlay ${shown(o.name)}: ${o.status}${o.error !== undefined ? `: ${shown(o.error)}` : ''}`,
        );
      if (st.dataplane.error !== undefined)
        lines.push(`      data plane FAILED: ${shown(st.dataplane.error)}`);
      for (const f of st.dataplane.failures)
        lines.push(`      kernel refused: ${shown(f.line)}: ${shown(f.error)}`);
      if (st.rejected.length > 0)
        lines.push(`      rejected inputs (${st.rejected.length}, skipped; the rest applies):`);
      for (const r of st.rejected)
        lines.push(`        ${shown(r.source)} ${shown(r.key)}: ${shown(r.field)}: ${shown(r.problem)}`);
    }
  }
  if (pools && 'error' in pools) lines.push(`pools: unavailable: ${shown(pools.error)}`);
  else if (pools) {
    lines.push(`pools (the leader's allocations, ${pools.agents} agents):`);
    lines.push(poolLine('vtep', pools.vtep.ipv4));
    if (pools.vtep.ipv6) lines.push(poolLine('vtep6', pools.vtep.ipv6));
    for (const o of pools.overlays) {
      const name = `${shown(o.name)}${o.enabled ? '' : ' (disabled)'}`;
      if (o.ipv4) lines.push(poolLine(name, o.ipv4));
      if (o.ipv6) lines.push(poolLine(`${name} v6`, o.ipv6));
      if (o.agents_without > 0)
        lines.push(`    ${o.agents_without} agent(s) registered without ${shown(o.name)}: its pool is full`);
    }
  }
  const sum = s.summary;
  if (sum) {
    lines.push(`VIPs: ${sum.vips}`);
    lines.push(
      `DNS zones served by every node (${sum.dnsZones.length}): ${sum.dnsZones.map(shown).join(', ') || 'none published'}`,
    );
  }
  return lines.join('\n');
}

/** The first master URL(s) given, parsed; a bad one is a usage error naming the option. */
function masterUrls(text: string): string[] {
  return text
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => {
      try {
        return new URL(u).origin;
      } catch {
        throw new UsageError(`--master: "${u}" is not a URL`);
      }
    });
}

/** Pool counts from the leader (only it holds the allocator), else from the master that answered. */
async function leaderPools(
  client: ControlClient,
  status: ClusterStatus,
  answered: string,
): Promise<PoolsAnswer> {
  const errors: string[] = [];
  for (const url of new Set([status.leader?.url, answered].filter((u): u is string => !!u))) {
    try {
      const res = await client.fetch(`${url}/overlay-master/pools`, { signal: AbortSignal.timeout(3000) });
      if (res.ok) return (await res.json()) as PoolUsage;
      errors.push(`${url}: HTTP ${res.status}`);
    } catch (err) {
      errors.push(`${url}: ${(err as Error).message}`);
    }
  }
  return { error: errors.join('; ') };
}

export function addStatusCommand(program: Command): void {
  const cmd = program
    .command('status')
    .description(
      'show masters, the leader, store health, agents, overlays, pools, DNS zones, VIPs and rejected input (asks any master)',
    )
    .option(
      '--master <url[,url…]>',
      'master URL(s); the first that answers is used (default https://127.0.0.1:5050, http:// with --insecure)',
    )
    .option('--json', 'print the raw status document');
  addTlsOptions(cmd).action(async (opts: TlsCliOptions & { master?: string; json?: boolean }) => {
    const tls = await controlPlaneTls('dcnet status', opts, ['operator', 'master', 'agent']);
    if (opts.insecure) process.stderr.write('dcnet status: --insecure: asking over plain HTTP\n');
    const urls = masterUrls(opts.master ?? `${tls.secure ? 'https' : 'http'}://127.0.0.1:5050`);
    checkScheme('--master', urls, tls);
    const { plainClient, tlsClient } = await import('../pki/index.js');
    const client = tls.secure ? tlsClient(tls.files, { requirePeerRole: 'master' }) : plainClient;
    const errors: string[] = [];
    try {
      for (const url of urls) {
        try {
          const res = await client.fetch(`${url}/overlay-master/status`, {
            signal: AbortSignal.timeout(5000),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
          const status = (await res.json()) as ClusterStatus;
          const pools = await leaderPools(client, status, url);
          process.stdout.write(
            `${opts.json ? JSON.stringify({ ...status, pools }, null, 2) : formatStatus(status, pools)}\n`,
          );
          process.exitCode = status.store.reachable && status.leader ? 0 : 1;
          return;
        } catch (err) {
          const cause = (err as Error).cause as Error | undefined;
          errors.push(`${url}: ${(err as Error).message}${cause?.message ? ` (${cause.message})` : ''}`);
        }
      }
    } finally {
      await client.close();
    }
    process.stderr.write(`dcnet status: no master answered:\n  ${errors.join('\n  ')}\n`);
    process.exitCode = 1;
  });
}
