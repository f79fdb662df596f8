// nftables: whole tables written in text syntax through `nft -f -` (one atomic transaction), and
// read back as JSON (specs/test-machine.md §4: text for writes, JSON for reads). The text comes
// only from the renderers in this folder (nft-l4lb.ts, nft-masquerade.ts), never from a caller.
import { KernelInputError, run, runJson, type RunOptions } from './exec.js';

/** The tables dcnet owns: the only ones it lists, checks or deletes. */
export const NFT_TABLES = ['dcnet_l4lb', 'dcnet_overlay', 'dcnet_port_mapper'] as const;
export type NftTableName = (typeof NFT_TABLES)[number];

const table = (name: NftTableName): string => {
  if (!(NFT_TABLES as readonly string[]).includes(name)) throw new KernelInputError('nft', 'table', name);
  return name;
};

/** Internal: applies a script this folder rendered. */
export async function nftApply(script: string, opts?: RunOptions): Promise<void> {
  await run('nft', ['-f', '-'], { ...opts, input: script });
}

export async function nftTableExists(name: NftTableName, opts?: RunOptions): Promise<boolean> {
  try {
    await run('nft', ['list', 'table', 'inet', table(name)], opts);
    return true;
  } catch {
    return false;
  }
}

export type NftJson = { nftables: Record<string, unknown>[] };

export async function nftListTable(name: NftTableName, opts?: RunOptions): Promise<NftJson> {
  return runJson<NftJson>('nft', ['-j', 'list', 'table', 'inet', table(name)], opts);
}

export async function nftDeleteTable(name: NftTableName, opts?: RunOptions): Promise<void> {
  if (await nftTableExists(name, opts)) await run('nft', ['delete', 'table', 'inet', table(name)], opts);
}
