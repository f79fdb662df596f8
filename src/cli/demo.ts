// `dcnet demo`: the whole stack on one machine (see src/sim/demo.ts), with a report for people,
// `--check` for CI, and `--detach`/`--down` for poking at it from another shell.
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Demo } from '../sim/index.js';
import { UsageError } from './usage-error.js';

interface DemoOpts {
  check?: boolean;
  detach?: boolean;
  down?: boolean;
  workdir?: string;
  docker?: boolean;
}

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run a whole cluster in network namespaces: master, 3 private + 1 public agent, emulated Mesos/Marathon, example apps',
    )
    .option('--check', 'verify every capability end to end, tear down, exit non-zero on any failure')
    .option('--detach', 'return once the cluster is ready, leaving it running (needs --workdir)')
    .option('--down', 'remove a detached demo (needs --workdir)')
    .option('--docker', 'also run a real dockerd on agent a1 (DOCKER containerizer, Docker networks)')
    .option('--workdir <dir>', 'scratch directory (state, logs, cluster.json); default: a new temp dir')
    .action(async (opts: DemoOpts) => {
      if (process.getuid?.() !== 0)
        throw new UsageError('demo: needs root (it creates network namespaces); run as root');
      if ((opts.detach || opts.down) && !opts.workdir)
        throw new UsageError('demo: --detach and --down need --workdir DIR');
      if (opts.down) {
        process.stdout.write(`${await Demo.down(resolve(opts.workdir!))}\n`);
        return;
      }
      const own = opts.workdir === undefined;
      const workdir = own ? await mkdtemp(join(tmpdir(), 'dcnet-demo-')) : resolve(opts.workdir!);
      await mkdir(workdir, { recursive: true });
      const say = (line: string): void => void process.stdout.write(`${line}\n`);
      let demo: Demo;
      try {
        demo = await Demo.up({
          workdir,
          detach: opts.detach ?? false,
          say,
          ...(opts.docker && { dockerAgents: ['a1'] }),
        });
      } catch (err) {
        if (own) await rm(workdir, { recursive: true, force: true });
        throw err;
      }
      const cluster = await demo.clusterJson();
      await writeFile(join(workdir, 'cluster.json'), `${JSON.stringify(cluster, null, 2)}\n`);
      say(`\n${await demo.report()}\n`);
      if (opts.detach) {
        await demo.handOver();
        say(
          `cluster.json: ${join(workdir, 'cluster.json')}\nremove with: dcnet demo --down --workdir ${workdir}`,
        );
        process.exit(0);
      }
      if (opts.check) {
        const results = await demo.check();
        for (const r of results) say(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name}: ${r.detail}`);
        await demo.destroy();
        if (own) await rm(workdir, { recursive: true, force: true });
        const failed = results.filter((r) => !r.ok).length;
        say(`${results.length - failed} passed, ${failed} failed`);
        process.exitCode = failed ? 1 : 0;
        return;
      }
      say('Serving until Ctrl-C.');
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      say('removing everything the demo made…');
      await demo.destroy();
      if (own) await rm(workdir, { recursive: true, force: true });
    });
}
