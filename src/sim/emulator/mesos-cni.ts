// The Mesos agent's `network/cni` isolator (apache/mesos isolators/network/cni/cni.cpp), as far
// as a task's network is concerned: --network_cni_config_dir is read one network per file (each
// parsed as NetworkConfig: `name` and `type` required; a file that fails is logged and skipped, a
// second file for a name is skipped, a network whose plugin or IPAM plugin is not in
// --network_cni_plugins_dir is skipped), reloaded on a cache miss; a task attaches by running the
// network's plugin with CNI_COMMAND/CONTAINERID/PATH/IFNAME/NETNS and the config with
// `args["org.apache.mesos"].network_info` injected; the result is read as NetworkInfo (ip4/ip6).
// Errors use Mesos' wording, so a config Mesos would refuse fails a task here the same way.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cniExec } from '../../kernel/index.js';
import { parseNetworkConfig, parseNetworkInfo, whichIn, type NetworkInfo } from '../../overlay/index.js';

export interface MesosPortMapping {
  readonly host_port: number;
  readonly container_port: number;
  readonly protocol?: string;
}

/** mesos.NetworkInfo as the isolator passes it to plugins (JSON::protobuf). */
export interface MesosNetworkInfo {
  readonly name: string;
  readonly port_mappings?: MesosPortMapping[];
}

export interface IsolatorLog {
  error(msg: string): void;
  info(msg: string): void;
}

export interface Attachment {
  readonly networkName: string;
  readonly ifName: string;
  readonly info: NetworkInfo;
}

export class MesosCniIsolator {
  private networkConfigs = new Map<string, string>();

  constructor(
    readonly configDir: string,
    readonly pluginsDir: string,
    private readonly log: IsolatorLog,
    /** The namespace plugins run in (the agent's node in the test bed). */
    private readonly hostNetns?: string,
  ) {}

  /** NetworkCniIsolatorProcess::loadNetworkConfigs. */
  async loadNetworkConfigs(): Promise<Map<string, string>> {
    let entries: string[];
    try {
      entries = (await readdir(this.configDir)).sort();
    } catch (err) {
      throw new Error(
        `Unable to list the CNI network configuration directory '${this.configDir}': ${(err as Error).message}`,
      );
    }
    const configs = new Map<string, string>();
    for (const entry of entries) {
      const path = join(this.configDir, entry);
      if ((await stat(path).catch(() => undefined))?.isDirectory()) continue;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        this.log.error(`Failed to read CNI network configuration file '${path}': ${(err as Error).message}`);
        continue;
      }
      const parse = parseNetworkConfig(text);
      if (!parse.ok) {
        this.log.error(`Failed to parse CNI network configuration file '${path}': ${parse.error}`);
        continue;
      }
      const { name, type, ipam } = parse.value;
      if (configs.has(name)) {
        this.log.error(
          `Multiple network configuration for a CNI network is not allowed. Skipping configuration file '${path} since network ${name} already exists`,
        );
        continue;
      }
      if (whichIn(type, this.pluginsDir) === undefined) {
        this.log.error(
          `Skipping network '${name}' , from configuration file '${path}', since we failed to find CNI plugin '${type}' used by this network.`,
        );
        continue;
      }
      if (ipam && whichIn(ipam.type, this.pluginsDir) === undefined) {
        this.log.error(
          `Skipping network '${name}' , from configuration file '${path}', since we failed to find IPAM plugin '${ipam.type}' used by this network.`,
        );
        continue;
      }
      configs.set(name, path);
    }
    return configs;
  }

  /** The networks Mesos would offer tasks (after a fresh load). */
  async networks(): Promise<string[]> {
    this.networkConfigs = await this.loadNetworkConfigs();
    return [...this.networkConfigs.keys()];
  }

  private async readConfig(network: string, path: string): Promise<Record<string, unknown>> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new Error(`Failed to read CNI network configuration file: '${path}': ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`Failed to parse CNI network configuration file: '${path}': ${(err as Error).message}`);
    }
    const obj = (typeof json === 'object' && json !== null && !Array.isArray(json) ? json : {}) as Record<
      string,
      unknown
    >;
    if (typeof obj.name !== 'string')
      throw new Error("Cannot determine the 'name' of the CNI network for this configuration '");
    if (obj.name !== network)
      throw new Error(
        `The current CNI configuration network('${obj.name}') does not match the network name: '${network}'`,
      );
    return obj;
  }

  /** getNetworkConfigJSON: the cached file, else a reload, else "Unknown CNI network". */
  async networkConfig(network: string): Promise<{ path: string; json: Record<string, unknown> }> {
    const cached = this.networkConfigs.get(network);
    if (cached !== undefined) {
      try {
        return { path: cached, json: await this.readConfig(network, cached) };
      } catch (err) {
        this.log.error(
          `Removing the network '${network}' from cache due to failure to validate the configuration: ${(err as Error).message}`,
        );
        this.networkConfigs.delete(network);
      }
    }
    try {
      this.networkConfigs = await this.loadNetworkConfigs();
    } catch (err) {
      throw new Error(
        `Encountered error while loading CNI config during a cache-miss for CNI network '${network}': ${(err as Error).message}`,
      );
    }
    const path = this.networkConfigs.get(network);
    if (path !== undefined) return { path, json: await this.readConfig(network, path) };
    throw new Error(`Unknown CNI network '${network}'`);
  }

  /** The config the plugin is given: the file with Mesos' `args` injected. */
  private async pluginConfig(
    network: MesosNetworkInfo,
  ): Promise<{ path: string; type: string; config: Record<string, unknown> }> {
    const { path, json } = await this.networkConfig(network.name).catch((err: Error) => {
      throw new Error(`Could not get valid CNI configuration for network '${network.name}': ${err.message}`);
    });
    const args = json.args ?? {};
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw new Error(`Invalid 'args' found in CNI network configuration file '${path}': not an object`);
    if ('org.apache.mesos' in args)
      throw new Error(
        "'org.apache.mesos' in 'args' should not be set in CNI network configuration file. It is reserved by Mesos",
      );
    const type = json.type;
    if (typeof type !== 'string')
      throw new Error(
        `Could not find the CNI plugin to use for network '${network.name}' with CNI configuration '${path}'`,
      );
    return {
      path,
      type,
      config: { ...json, args: { ...args, 'org.apache.mesos': { network_info: network } } },
    };
  }

  /** NetworkCniIsolatorProcess::attach + _attach for one network of a container. */
  async attach(
    containerId: string,
    network: MesosNetworkInfo,
    ifName: string,
    netnsPath: string,
  ): Promise<Attachment> {
    const { type, config } = await this.pluginConfig(network);
    if (whichIn(type, this.pluginsDir) === undefined)
      throw new Error(
        `Unable to find the plugin ${type} required to attach ${containerId} to network '${network.name}'`,
      );
    const plugin = join(this.pluginsDir, type);
    this.log.info(
      `Invoking CNI plugin '${plugin}' to attach container ${containerId} to network '${network.name}'`,
    );
    const out = await this.exec('ADD', type, config, containerId, ifName, netnsPath);
    if (out.code !== 0)
      throw new Error(
        `The CNI plugin '${plugin}' failed to attach container ${containerId} to CNI network '${network.name}': stdout='${out.stdout}', stderr='${out.stderr}'`,
      );
    const parse = parseNetworkInfo(out.stdout);
    if (!parse.ok)
      throw new Error(`Failed to parse the output of the CNI plugin '${plugin}': ${parse.error}`);
    const info = parse.value;
    if (info.ip4)
      this.log.info(
        `Got assigned IPv4 address '${info.ip4.ip}' from CNI network '${network.name}' for container ${containerId}`,
      );
    if (info.ip6)
      this.log.info(
        `Got assigned IPv6 address '${info.ip6.ip}' from CNI network '${network.name}' for container ${containerId}`,
      );
    return { networkName: network.name, ifName, info };
  }

  /** One plugin call with the environment Mesos sets (CNI_COMMAND, CNI_CONTAINERID, …). */
  private exec(
    command: 'ADD' | 'DEL',
    type: string,
    config: unknown,
    containerId: string,
    ifName: string,
    netnsPath: string,
  ): ReturnType<typeof cniExec> {
    return cniExec(
      {
        pluginDir: this.pluginsDir,
        type,
        command,
        containerId,
        ifname: ifName,
        netnsPath,
        ...(this.hostNetns !== undefined && { hostNetns: this.hostNetns }),
      },
      JSON.stringify(config),
    );
  }

  /** NetworkCniIsolatorProcess::detach: DEL with the config of the attach. */
  async detach(
    containerId: string,
    network: MesosNetworkInfo,
    ifName: string,
    netnsPath: string,
  ): Promise<void> {
    const { type, config } = await this.pluginConfig(network);
    const out = await this.exec('DEL', type, config, containerId, ifName, netnsPath);
    if (out.code !== 0)
      throw new Error(
        `The CNI plugin '${join(this.pluginsDir, type)}' failed to detach container ${containerId} from network '${network.name}': stdout='${out.stdout}', stderr='${out.stderr}'`,
      );
  }
}
