// Runs CNI plugins: chains the way a container runtime does (a small libcni: ADD through every
// plugin of a conflist passing prevResult along, DEL in reverse), used by the test bed; and one
// plugin the way Mesos runs one (`cniExec`: config text in, exit code and streams out), used by
// the emulator's network/cni isolator and by dcnet's mesos-cni-port-mapper for its delegate.
import { isIfName } from '../net/index.js';
import { KernelError, KernelInputError, need, run } from './exec.js';

export const DEFAULT_CNI_PATH = '/usr/lib/cni';
const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** The CNI spec's container ID grammar, bounded. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

export interface CniConflist {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Record<string, unknown>[];
}

export interface CniInvocation {
  readonly containerId: string;
  /** Path of the container's network namespace, e.g. /run/netns/NAME. */
  readonly netnsPath: string;
  readonly ifname: string;
  readonly pluginDir?: string;
  /** The host side: the namespace the plugin runs in (the agent's node). */
  readonly hostNetns?: string;
  /** Passed to plugins that declare the capability (portmap: `portMappings`). */
  readonly runtimeConfig?: Record<string, unknown>;
}

export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces?: { name: string; mac?: string; sandbox?: string }[];
  readonly ips?: { address: string; gateway?: string; interface?: number }[];
  readonly routes?: { dst: string; gw?: string }[];
}

async function invoke(
  command: 'ADD' | 'DEL' | 'CHECK',
  conf: Record<string, unknown>,
  inv: CniInvocation,
): Promise<string> {
  const dir = inv.pluginDir ?? DEFAULT_CNI_PATH;
  // The plugin is a file in the plugin directory, named by the config: never a path elsewhere.
  const type = conf.type;
  if (typeof type !== 'string' || !PLUGIN_NAME.test(type)) throw new KernelInputError('cni', 'type', type);
  if (!CONTAINER_ID.test(inv.containerId)) throw new KernelInputError('cni', 'containerId', inv.containerId);
  need(isIfName, inv.ifname, 'cni', 'ifname');
  const { stdout } = await run(`${dir}/${type}`, [], {
    input: JSON.stringify(conf),
    env: {
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: inv.containerId,
      CNI_NETNS: inv.netnsPath,
      CNI_IFNAME: inv.ifname,
      CNI_PATH: dir,
    },
    ...(inv.hostNetns !== undefined && { netns: inv.hostNetns }),
    timeoutMs: 30_000,
  });
  return stdout;
}

function pluginConf(
  list: CniConflist,
  plugin: Record<string, unknown>,
  inv: CniInvocation,
  prev?: unknown,
): Record<string, unknown> {
  const caps = (plugin.capabilities ?? {}) as Record<string, boolean>;
  const runtimeConfig = Object.fromEntries(Object.entries(inv.runtimeConfig ?? {}).filter(([k]) => caps[k]));
  return {
    ...plugin,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(Object.keys(runtimeConfig).length > 0 && { runtimeConfig }),
    ...(prev !== undefined && { prevResult: prev }),
  };
}

export async function cniAdd(list: CniConflist, inv: CniInvocation): Promise<CniResult> {
  let prev: unknown;
  for (const plugin of list.plugins) {
    const out = await invoke('ADD', pluginConf(list, plugin, inv, prev), inv);
    prev = JSON.parse(out) as unknown;
  }
  return prev as CniResult;
}

export async function cniDel(list: CniConflist, inv: CniInvocation): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) await invoke('DEL', pluginConf(list, plugin, inv), inv);
}

/** One plugin run the way Mesos' `network/cni` isolator and its port-mapper run one: the config
 *  text on stdin, the CNI_* variables from typed fields, and the exit code and both streams handed
 *  back (a failing plugin's stdout carries its CNI error, which the caller reports). */
export interface CniExec {
  readonly pluginDir: string;
  /** The plugin's file name in `pluginDir` (a config's `type`). */
  readonly type: string;
  readonly command: 'ADD' | 'DEL';
  readonly containerId: string;
  readonly ifname: string;
  /** CNI_NETNS; Mesos' port-mapper allows none for DEL. */
  readonly netnsPath?: string;
  /** CNI_ARGS, passed through when the caller had it. */
  readonly cniArgs?: string;
  /** Run inside this network namespace (the agent's node in the test bed). */
  readonly hostNetns?: string;
}

export interface CniExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const NETNS_PATH = /^\/[A-Za-z0-9_./-]{1,255}$/;

export async function cniExec(exec: CniExec, config: string): Promise<CniExecResult> {
  if (!PLUGIN_NAME.test(exec.type)) throw new KernelInputError('cni', 'type', exec.type);
  if (!CONTAINER_ID.test(exec.containerId))
    throw new KernelInputError('cni', 'containerId', exec.containerId);
  need(isIfName, exec.ifname, 'cni', 'ifname');
  if (exec.netnsPath !== undefined && (!NETNS_PATH.test(exec.netnsPath) || exec.netnsPath.includes('..')))
    throw new KernelInputError('cni', 'netnsPath', exec.netnsPath);
  if (exec.cniArgs !== undefined && /[\0\n]/.test(exec.cniArgs))
    throw new KernelInputError('cni', 'cniArgs', exec.cniArgs);
  if (!exec.pluginDir.startsWith('/') || exec.pluginDir.includes('\0'))
    throw new KernelInputError('cni', 'pluginDir', exec.pluginDir);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: exec.command,
    CNI_CONTAINERID: exec.containerId,
    CNI_PATH: exec.pluginDir,
    CNI_IFNAME: exec.ifname,
    ...(exec.netnsPath !== undefined && { CNI_NETNS: exec.netnsPath }),
    ...(exec.cniArgs !== undefined && { CNI_ARGS: exec.cniArgs }),
  };
  try {
    const { stdout, stderr } = await run(`${exec.pluginDir}/${exec.type}`, [], {
      input: config,
      env,
      ...(exec.hostNetns !== undefined && { netns: exec.hostNetns }),
      timeoutMs: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    if (err instanceof KernelError) return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr };
    throw err;
  }
}
