// A `mesos-cni-port-mapper` compatible with Mesos' (plugins/port_mapper): the same config
// (`name`, `chain`, `excludeDevices`, `delegate`), the same environment, the same delegate
// semantics (the delegate gets the config's `name` and `args`, ADD runs it first, DEL removes the
// DNAT rules first), the same errors and codes. Beyond the original: DNAT for the container's IPv6
// address as well (Mesos' refuses a delegate result without IPv4 and maps IPv4 only), in nftables
// through kernel/, and every excluded device honoured (Mesos' keeps only the last one).
import {
  cniExec,
  portMapperAdd,
  portMapperDelete,
  type CniExec,
  type PortMapping,
} from '../../kernel/index.js';
import {
  cidrAddress,
  isIfName,
  parseIpv4Cidr,
  parseIpv6Cidr,
  type IfName,
  type IpAddr,
} from '../../net/index.js';
import { cniError, parseNetworkInfo, type NetworkInfo } from './spec.js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ERROR_READ_FAILURE = 100;
export const ERROR_BAD_ARGS = 101;
export const ERROR_DELEGATE_FAILURE = 102;
export const ERROR_PORTMAP_FAILURE = 103;
export const ERROR_UNSUPPORTED_COMMAND = 104;

export class PluginError extends Error {
  constructor(
    msg: string,
    readonly code: number,
  ) {
    super(msg);
  }
  /** What goes to stdout: the CNI error JSON. */
  toJson(): string {
    return cniError(this.message, this.code);
  }
}

export interface PortMapperPlan {
  readonly command: string;
  readonly containerId: string;
  readonly netns?: string;
  readonly ifname: string;
  readonly cniArgs?: string;
  readonly cniPath: string;
  readonly chain: string;
  readonly excludeDevices: IfName[];
  readonly mappings: PortMapping[];
  readonly delegateType: string;
  readonly delegateConfig: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `os::which(name, dir)`: an executable file of that name in one of the `:`-separated dirs. */
export function whichIn(name: string, path: string): string | undefined {
  if (name.includes('/') || name === '' || name === '.' || name === '..') return undefined;
  for (const dir of path.split(':')) {
    const file = join(dir, name);
    try {
      if (existsSync(file) && statSync(file).isFile() && (statSync(file).mode & 0o111) !== 0) return file;
    } catch {
      // unreadable: not found
    }
  }
  return undefined;
}

function parseMappings(networkInfo: Record<string, unknown>): PortMapping[] {
  const raw = networkInfo.port_mappings;
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new PluginError('Unable to parse `NetworkInfo`: port_mappings is not an array', ERROR_BAD_ARGS);
  return raw.map((m, i) => {
    const port = (v: unknown, f: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
        throw new PluginError(
          `Unable to parse \`NetworkInfo\`: port_mappings[${i}].${f} is not a port`,
          ERROR_BAD_ARGS,
        );
      return v;
    };
    if (!isObject(m))
      throw new PluginError(
        `Unable to parse \`NetworkInfo\`: port_mappings[${i}] is not an object`,
        ERROR_BAD_ARGS,
      );
    const protocol = m.protocol === undefined ? 'tcp' : String(m.protocol).toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp')
      throw new PluginError(
        `Unable to parse \`NetworkInfo\`: port_mappings[${i}].protocol ${JSON.stringify(m.protocol)} is not tcp or udp`,
        ERROR_BAD_ARGS,
      );
    return {
      hostPort: port(m.host_port, 'host_port'),
      containerPort: port(m.container_port, 'container_port'),
      protocol,
    };
  });
}

/** PortMapper::create: the environment and config checked with Mesos' wording. */
export function planPortMapper(env: NodeJS.ProcessEnv, configText: string): PortMapperPlan {
  const bad = (msg: string): PluginError => new PluginError(msg, ERROR_BAD_ARGS);
  const command = env.CNI_COMMAND;
  if (command === undefined) throw bad("Unable to find environment variable 'CNI_COMMAND'");
  const containerId = env.CNI_CONTAINERID;
  if (containerId === undefined) throw bad("Unable to find environment variable 'CNI_CONTAINERID'");
  const netns = env.CNI_NETNS;
  if (netns === undefined && command !== 'DEL')
    throw bad("Unable to find environment variable 'CNI_NETNS' for non-'DEL' command");
  const ifname = env.CNI_IFNAME;
  if (ifname === undefined) throw bad("Unable to find environment variable 'CNI_IFNAME'");
  const cniPath = env.CNI_PATH;
  if (cniPath === undefined) throw bad("Unable to find environment variable 'CNI_PATH'");
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!isObject(config)) throw bad('Expecting a JSON object');
  const name = config.name;
  if (typeof name !== 'string')
    throw bad(
      `Failed to get the required field 'name': ${name === undefined ? 'Not found' : 'not a string'}`,
    );
  const chain = config.chain;
  if (typeof chain !== 'string')
    throw bad(
      `Failed to get the required field 'chain': ${chain === undefined ? 'Not found' : 'not a string'}`,
    );
  const excludeDevices: IfName[] = [];
  if (config.excludeDevices !== undefined) {
    if (!Array.isArray(config.excludeDevices))
      throw bad("Failed to parse field 'excludeDevices': not an array");
    for (const d of config.excludeDevices) {
      if (typeof d !== 'string')
        throw bad("Failed to parse 'excludeDevices' list. The excluded device needs to be a string");
      if (!isIfName(d))
        throw bad(`Failed to parse 'excludeDevices' list: ${JSON.stringify(d)} is not a device name`);
      excludeDevices.push(d);
    }
  }
  let args = config.args;
  if (args !== undefined && !isObject(args)) throw bad("Failed to get the field 'args': not an object");
  args ??= { 'org.apache.mesos': { network_info: {} } };
  const mesos = (args as Record<string, unknown>)['org.apache.mesos'];
  if (!isObject(mesos))
    throw bad(
      `Failed to get the field 'args{org.apache.mesos}': ${mesos === undefined ? 'Not found' : 'not an object'}`,
    );
  const networkInfo = mesos.network_info;
  if (!isObject(networkInfo))
    throw bad(
      `Failed to get the field 'args{org.apache.mesos}{network_info}': ${networkInfo === undefined ? 'Not found' : 'not an object'}`,
    );
  const mappings = parseMappings(networkInfo);
  const delegate = config.delegate;
  if (!isObject(delegate)) throw bad("Failed to get the required field 'delegate'Not found");
  const delegateType = delegate.type;
  if (typeof delegateType !== 'string') throw bad("Failed to get the delegate plugin 'type'Not found");
  if (whichIn(delegateType, cniPath) === undefined)
    throw bad(`Could not find the delegate plugin '${delegateType}' in '${cniPath}'`);
  return {
    command,
    containerId,
    ...(netns !== undefined && { netns }),
    ifname,
    ...(env.CNI_ARGS !== undefined && { cniArgs: env.CNI_ARGS }),
    cniPath,
    chain,
    excludeDevices,
    mappings,
    delegateType,
    delegateConfig: { ...delegate, name, args },
  };
}

async function delegate(plan: PortMapperPlan, command: 'ADD' | 'DEL'): Promise<NetworkInfo | undefined> {
  const dir = plan.cniPath.split(':').find((d) => whichIn(plan.delegateType, d) !== undefined)!;
  const exec: CniExec = {
    pluginDir: dir,
    type: plan.delegateType,
    command,
    containerId: plan.containerId,
    ifname: plan.ifname,
    ...(plan.netns !== undefined && { netnsPath: plan.netns }),
    ...(plan.cniArgs !== undefined && { cniArgs: plan.cniArgs }),
  };
  const out = await cniExec(exec, JSON.stringify(plan.delegateConfig));
  const plugin = join(dir, plan.delegateType);
  if (out.code !== 0) {
    process.stderr.write(`Delegate plugin reported error: ${out.stderr}\n`);
    throw new Error(
      `The delegate CNI plugin '${plugin}' return status ${out.code}. Could not attach/detach container: ${out.stdout}`,
    );
  }
  if (command === 'DEL') return undefined;
  const parsed = parseNetworkInfo(out.stdout);
  if (!parsed.ok)
    throw new Error(`Failed to parse the output of the delegate CNI plugin '${plugin}': ${parsed.error}`);
  return parsed.value;
}

/** The container's addresses from the delegate's result, without prefix length. */
export function resultAddresses(info: NetworkInfo): IpAddr[] {
  const out: IpAddr[] = [];
  if (info.ip4) {
    const c = parseIpv4Cidr(info.ip4.ip, 'ip4.ip');
    if (typeof c !== 'string')
      throw new Error(`Could not parse IPv4 address returned by delegate: ${info.ip4.ip}`);
    out.push(cidrAddress(c));
  }
  if (info.ip6) {
    const c = parseIpv6Cidr(info.ip6.ip, 'ip6.ip');
    if (typeof c !== 'string')
      throw new Error(`Could not parse IPv6 address returned by delegate: ${info.ip6.ip}`);
    out.push(cidrAddress(c));
  }
  return out;
}

/** PortMapper::execute: the result JSON for ADD, undefined for DEL. */
export async function executePortMapper(plan: PortMapperPlan): Promise<string | undefined> {
  const rules = { chain: plan.chain, containerId: plan.containerId };
  if (plan.command === 'ADD') {
    let info: NetworkInfo;
    try {
      info = (await delegate(plan, 'ADD'))!;
    } catch (err) {
      throw new PluginError(
        `Could not execute the delegate plugin '${plan.delegateType}' for ADD command: ${(err as Error).message}`,
        ERROR_DELEGATE_FAILURE,
      );
    }
    if (!info.ip4 && !info.ip6)
      throw new PluginError(
        `Delegate CNI plugin '${plan.delegateType}' did not return an IPv4 or IPv6 address`,
        ERROR_DELEGATE_FAILURE,
      );
    let addresses: IpAddr[];
    try {
      addresses = resultAddresses(info);
    } catch (err) {
      throw new PluginError((err as Error).message, ERROR_DELEGATE_FAILURE);
    }
    if (plan.mappings.length > 0) {
      try {
        await portMapperAdd({
          ...rules,
          excludeDevices: plan.excludeDevices,
          addresses,
          mappings: plan.mappings,
        });
      } catch (err) {
        throw new PluginError(
          `Failed to add DNAT rule with tag: ${(err as Error).message}`,
          ERROR_PORTMAP_FAILURE,
        );
      }
    }
    return JSON.stringify(info);
  }
  if (plan.command === 'DEL') {
    try {
      await portMapperDelete(rules);
    } catch (err) {
      throw new PluginError(
        `Unable to remove iptables DNAT rules: Unable to delete DNAT rules: ${(err as Error).message}`,
        ERROR_PORTMAP_FAILURE,
      );
    }
    try {
      await delegate(plan, 'DEL');
    } catch (err) {
      throw new PluginError(
        `Could not execute the delegate plugin '${plan.delegateType}' for DEL command: ${(err as Error).message}`,
        ERROR_DELEGATE_FAILURE,
      );
    }
    return undefined;
  }
  throw new PluginError(`Unsupported command: ${plan.command}`, ERROR_UNSUPPORTED_COMMAND);
}
