export * from './types.js';
export { EmbeddedStore, type EmbeddedStoreOptions, type RecoveryReport } from './embedded.js';
export {
  registerStoreRoutes,
  STORE_PREFIX,
  type StoreAccess,
  type StoreCall,
  type StoreServerOptions,
} from './http-server.js';
export { HttpStore, type HttpStoreOptions } from './http-client.js';
export { EtcdStore, parseEtcdUrl, parseStoreUrl, type EtcdStoreOptions, type EtcdTls } from './etcd.js';
export { LeaderElection, type ElectionOptions } from './election.js';
export { PrefixMirror, type PrefixMirrorOptions } from './mirror.js';
