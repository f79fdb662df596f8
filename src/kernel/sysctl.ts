// sysctl from a fixed set of keys (no caller names an arbitrary /proc/sys path). In this process's
// own network namespace through /proc/sys; for another namespace (RunOptions.netns) through the
// sysctl tool run there, since /proc/sys/net shows the namespace of the process reading it.
import { readFile, writeFile } from 'node:fs/promises';
import { needOneOf, run, type RunOptions } from './exec.js';

export const SYSCTL_KEYS = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  // Same-bridge clients and backends need bridged traffic to pass the IP hooks (test-machine §4.2).
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
] as const;
export type SysctlKey = (typeof SYSCTL_KEYS)[number];
export type SysctlValue = '0' | '1';

const path = (key: SysctlKey): string =>
  `/proc/sys/${needOneOf(key, SYSCTL_KEYS, 'sysctl', 'key').replace(/\./g, '/')}`;

export async function readSysctl(key: SysctlKey, opts?: RunOptions): Promise<string> {
  if (opts?.netns === undefined) return (await readFile(path(key), 'utf8')).trim();
  const { stdout } = await run('sysctl', ['-n', needOneOf(key, SYSCTL_KEYS, 'sysctl', 'key')], opts);
  return stdout.trim();
}

/** Sets a value if it differs; returns true if it changed. */
export async function ensureSysctl(key: SysctlKey, value: SysctlValue, opts?: RunOptions): Promise<boolean> {
  const v = needOneOf(value, ['0', '1'], 'sysctl', 'value');
  if ((await readSysctl(key, opts)) === v) return false;
  if (opts?.netns === undefined) await writeFile(path(key), v);
  else await run('sysctl', ['-q', '-w', `${needOneOf(key, SYSCTL_KEYS, 'sysctl', 'key')}=${v}`], opts);
  return true;
}
