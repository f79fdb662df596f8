#!/usr/bin/env node
// `mesos-cni-port-mapper`: the executable a CNI runtime (Mesos' network/cni isolator) runs. Reads
// the config from stdin, prints the result or a CNI error on stdout, exits non-zero on error.
import { ERROR_READ_FAILURE, PluginError, executePortMapper, planPortMapper } from './plugin.js';
import { cniError } from './spec.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  let config: string;
  try {
    config = await readStdin();
  } catch (err) {
    process.stdout.write(`${cniError((err as Error).message, ERROR_READ_FAILURE)}\n`);
    return 1;
  }
  try {
    const result = await executePortMapper(planPortMapper(process.env, config));
    if (result !== undefined) process.stdout.write(`${result}\n`);
    return 0;
  } catch (err) {
    const e = err instanceof PluginError ? err : new PluginError((err as Error).message, 999);
    process.stdout.write(`${e.toJson()}\n`);
    return 1;
  }
}

process.exitCode = await main();
