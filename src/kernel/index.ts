// The only place that runs programs. Everything here takes typed commands and renders them itself;
// the raw runner (exec.ts) and raw text (raw.ts) are not exported: only the test bed uses them.
export { KernelError, KernelInputError, type RunOptions, type RunResult } from './exec.js';
export * from './iproute.js';
export * from './sysctl.js';
export {
  NFT_TABLES,
  nftTableExists,
  nftListTable,
  nftDeleteTable,
  type NftTableName,
  type NftJson,
} from './nft.js';
export * from './nft-l4lb.js';
export * from './nft-masquerade.js';
export * from './nft-port-mapper.js';
export * from './conntrack.js';
export * from './cni.js';
export * from './docker.js';
export * from './haproxy.js';
