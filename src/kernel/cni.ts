// Runs CNI plugin chains the way a container runtime does (a small libcni): ADD through every
// plugin of a conflist passing prevResult along, DEL in reverse. Used by the test bed and the
// emulator to attach containers with the network configs dcnet writes.
import { isIfName } from '../net/index.js';
import { KernelInputError, need, run } from './exec.js';

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
