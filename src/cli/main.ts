// The dcnet command: one executable, one subcommand per role. Only the subcommand being run is
// imported (each pulls in its subsystems: the overlay, DNS, HAProxy machinery, the PKI…), so
// `dcnet --version` and `dcnet status` start about as fast as node itself; the others are listed
// by name and description for `--help`.
import { DCNET_VERSION } from './version.js';
import { Command, CommanderError } from 'commander';
import { UsageError } from './usage-error.js';

/** Every subcommand: its summary for `dcnet --help`, and how to load its definition. */
export const COMMANDS: readonly {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<(program: Command) => void>;
}[] = [
  {
    name: 'demo',
    description:
      'run a whole cluster in network namespaces: master, 3 private + 1 public agent, emulated Mesos/Marathon, example apps',
    load: async () => (await import('./demo.js')).addDemoCommand,
  },
  {
    name: 'master',
    description: 'run the overlay master: allocates agent subnets, VTEP IPs and MACs, durably',
    load: async () => (await import('./master.js')).addMasterCommand,
  },
  {
    name: 'agent',
    description:
      'run the node agent: registers with the overlay master, configures CNI/Docker/VXLAN, programs peers',
    load: async () => (await import('./agent.js')).addAgentCommand,
  },
  {
    name: 'status',
    description:
      'show masters, the leader, store health, agents, overlays, pools, DNS zones, VIPs and rejected input (asks any master)',
    load: async () => (await import('./status.js')).addStatusCommand,
  },
  {
    name: 'config',
    description: 'inspect configuration',
    load: async () => (await import('./config.js')).addConfigCommand,
  },
  {
    name: 'emulator',
    description: 'test bed: emulate the Mesos master and Marathon APIs, running tasks in the simulated hosts',
    load: async () => (await import('./emulator.js')).addEmulatorCommand,
  },
  {
    name: 'mesos-dns',
    description:
      'run a Mesos-DNS server (DNS for the .mesos domain and the /v1 HTTP API) from its config.json',
    load: async () => (await import('./mesos-dns.js')).addMesosDnsCommand,
  },
  {
    name: 'lb',
    description:
      'layer-7 load balancer: HAProxy configured from Marathon apps, Marathon-LB labels and templates',
    load: async () => (await import('./lb.js')).addLbCommand,
  },
  {
    name: 'pki',
    description: 'make the cluster CA and the TLS certificates of masters, agents and operators',
    load: async () => (await import('./pki.js')).addPkiCommand,
  },
];

/** The subcommand argv names (`dcnet NAME …` or `dcnet help NAME`), if any. */
function requested(argv: readonly string[]): string | undefined {
  const first = argv[2];
  return first === 'help' ? argv[3] : first;
}

/** The program with `load` subcommands defined in full (all when `'all'`), the rest as stubs. */
export async function buildProgram(load: 'all' | string | undefined = 'all'): Promise<Command> {
  const program = new Command('dcnet')
    .description(
      'DC/OS networking in one daemon: overlay networks, service discovery, L4 and L7 load balancing',
    )
    .version(DCNET_VERSION)
    .exitOverride()
    .showHelpAfterError();
  for (const c of COMMANDS) {
    if (load === 'all' || load === c.name) (await c.load())(program);
    else program.command(c.name).description(c.description);
  }
  return program;
}

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
export async function run(argv: string[]): Promise<void> {
  try {
    await (await buildProgram(requested(argv) ?? 'none')).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (!(err instanceof Error)) throw err;
    process.stderr.write(`dcnet: ${err.message}\n`);
    process.exitCode = (await isUsageProblem(err)) ? 2 : 1;
  }
}

/** Bad usage, configuration or unrecoverable state: exit 2. Imported only when something failed. */
async function isUsageProblem(err: Error): Promise<boolean> {
  if (err instanceof UsageError) return true;
  const [{ ConfigError }, { RecoveryError }] = await Promise.all([
    import('../config/index.js'),
    import('../overlay/index.js'),
  ]);
  return err instanceof ConfigError || err instanceof RecoveryError;
}
