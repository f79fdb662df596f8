// nftables: whole tables written in text syntax through `nft -f -` (one atomic transaction), and
// read back as JSON (specs/test-machine.md §4: text for writes, JSON for reads).
import { run, runJson, type RunOptions } from './exec.js';

export async function nftApply(script: string, opts?: RunOptions): Promise<void> {
  await run('nft', ['-f', '-'], { ...opts, input: script });
}

export async function nftCheck(script: string, opts?: RunOptions): Promise<void> {
  await run('nft', ['-c', '-f', '-'], { ...opts, input: script });
}

export async function nftTableExists(family: string, name: string, opts?: RunOptions): Promise<boolean> {
  try {
    await run('nft', ['list', 'table', family, name], opts);
    return true;
  } catch {
    return false;
  }
}

export type NftJson = { nftables: Record<string, unknown>[] };

export function nftListTable(family: string, name: string, opts?: RunOptions): Promise<NftJson> {
  return runJson<NftJson>('nft', ['-j', 'list', 'table', family, name], opts);
}

export async function nftDeleteTable(family: string, name: string, opts?: RunOptions): Promise<void> {
  if (await nftTableExists(family, name, opts)) await run('nft', ['delete', 'table', family, name], opts);
}
