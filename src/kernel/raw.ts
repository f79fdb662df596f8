// Raw access to the tools, for the test bed (src/sim/), tests and benchmarks only: argv, batch text
// and nft scripts as given. The daemon's code never imports this (eslint no-restricted-imports and
// test/unit/kernel-boundary.test.ts check that); it hands kernel/ typed commands instead.
import { run, type RunOptions } from './exec.js';
import { nftApply } from './nft.js';

export { run, runJson, KernelError, type RunOptions, type RunResult } from './exec.js';

/** `nft -f -` with a script as given (benchmarks compare other layouts with dcnet's). */
export function nftApplyText(script: string, opts?: RunOptions): Promise<void> {
  return nftApply(script, opts);
}

/** `ip -force -batch -` with lines as given. */
export async function ipBatchText(lines: readonly string[], opts?: RunOptions): Promise<void> {
  if (lines.length > 0)
    await run('ip', ['-force', '-batch', '-'], { ...opts, input: `${lines.join('\n')}\n` });
}

/** `bridge -force -batch -` with lines as given. */
export async function bridgeBatchText(lines: readonly string[], opts?: RunOptions): Promise<void> {
  if (lines.length > 0)
    await run('bridge', ['-force', '-batch', '-'], { ...opts, input: `${lines.join('\n')}\n` });
}
