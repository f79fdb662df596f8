export * from './types.js';
export { EmbeddedStore, type EmbeddedStoreOptions, type RecoveryReport } from './embedded.js';
export {
  registerStoreRoutes,
  STORE_PREFIX,
  CLUSTER_ID_HEADER,
  MEMBER_ID_HEADER,
  type StoreAccess,
  type StoreCall,
  type StoreServerOptions,
} from './http-server.js';
export { HttpStore, type HttpStoreOptions } from './http-client.js';
export { EtcdStore, parseEtcdUrl, parseStoreUrl, type EtcdStoreOptions, type EtcdTls } from './etcd.js';
export { LeaderElection, type ElectionOptions } from './election.js';
export { PrefixMirror, type PrefixMirrorOptions } from './mirror.js';
export { IDENTITY_FILE } from './identity.js';
