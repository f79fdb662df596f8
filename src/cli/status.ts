// `dcnet status`: masters, leader, store health, agents and their publication, from any master.
import type { Command } from 'commander';
import type { ClusterStatus } from '../overlay/index.js';
import { UsageError } from './usage-error.js';

/** Another node's text on this terminal: JSON-escaped when it holds control or format characters,
 *  so no escape sequence or line break gets through. */
const shown = (text: string): string =>
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(text) ? JSON.stringify(text) : text;

export function formatStatus(s: ClusterStatus): string {
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
  return lines.join('\n');
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show masters, the leader, store health and agents (asks any master)')
    .option('--master <url[,url…]>', 'master URL(s); the first that answers is used', 'http://127.0.0.1:5050')
    .option('--json', 'print the raw status document')
    .action(async (opts: { master: string; json?: boolean }) => {
      const errors: string[] = [];
      for (const url of opts.master.split(',').map((u) => u.trim())) {
        try {
          const res = await fetch(`${new URL(url).origin}/overlay-master/status`, {
            signal: AbortSignal.timeout(5000),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const status = (await res.json()) as ClusterStatus;
          process.stdout.write(`${opts.json ? JSON.stringify(status, null, 2) : formatStatus(status)}\n`);
          process.exitCode = status.store.reachable && status.leader ? 0 : 1;
          return;
        } catch (err) {
          if (err instanceof TypeError && /Invalid URL/.test(err.message))
            throw new UsageError(`--master: "${url}" is not a URL`);
          errors.push(`${url}: ${(err as Error).message}`);
        }
      }
      process.stderr.write(`dcnet status: no master answered:\n  ${errors.join('\n  ')}\n`);
      process.exitCode = 1;
    });
}
