// `dcnet emulator`: the Mesos/Marathon emulator of the test bed (used by `dcnet demo` and the
// tests; Mesos and Marathon cannot run on these machines). Runs inside the master's namespace.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  Emulator,
  emulatorAuthSchema,
  newAuthCounters,
  marathonApi,
  mesosApi,
  topologySchema,
  type ApiAuth,
} from '../sim/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';
import { UsageError } from './usage-error.js';

export function addEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('test bed: emulate the Mesos master and Marathon APIs, running tasks in the simulated hosts')
    .requiredOption('--topology <file>', 'cluster topology JSON (written by dcnet demo)')
    .option('--mesos-listen <host:port>', 'Mesos master API address', '127.0.0.1:5050')
    .option('--marathon-listen <host:port>', 'Marathon API address', '127.0.0.1:8080')
    .option('--kill-grace <ms>', 'how long tasks stay TASK_KILLING before they stop', '1000')
    .option(
      '--require-auth <file>',
      'require credentials as DC/OS strict mode does: {"basic":{…},"serviceAccounts":[{uid,public_key}],"tokenTtlS"}',
    )
    .option('--log-level <level>', 'log level', 'info')
    .action(
      async (opts: {
        topology: string;
        mesosListen: string;
        marathonListen: string;
        killGrace: string;
        requireAuth?: string;
        logLevel: string;
      }) => {
        const log = createLogger(opts.logLevel, 'dcnet-emulator');
        const parsed = topologySchema.safeParse(JSON.parse(await readFile(opts.topology, 'utf8')));
        if (!parsed.success)
          throw new UsageError(
            `--topology: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
        const mesosAt = parseListen(opts.mesosListen);
        const marathonAt = parseListen(opts.marathonListen);
        let auth: ApiAuth | undefined;
        if (opts.requireAuth !== undefined) {
          const policy = emulatorAuthSchema.safeParse(JSON.parse(await readFile(opts.requireAuth, 'utf8')));
          if (!policy.success)
            throw new UsageError(
              `--require-auth: ${policy.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
            );
          auth = { policy: policy.data, counters: newAuthCounters() };
        }
        const emu = new Emulator({ topology: parsed.data, log, killGraceMs: Number(opts.killGrace) });
        const mesos = mesosApi(emu, log, mesosAt.port, marathonAt.port, auth);
        const marathon = marathonApi(emu, log, auth);
        const mesosUrl = await mesos.listen(mesosAt);
        const marathonUrl = await marathon.listen(marathonAt);
        emu.start();
        log.info({ mesos: mesosUrl, marathon: marathonUrl }, 'emulator listening');
        const stop = (signal: string): void => {
          log.info({ signal }, 'stopping: killing every task');
          void (async () => {
            await emu.stop();
            await Promise.all([mesos.close(), marathon.close()]);
            process.exit(0);
          })();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      },
    );
}
