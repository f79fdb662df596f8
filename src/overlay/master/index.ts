export {
  OverlayMaster,
  RecoveryError,
  AllocationError,
  NotLeaderError,
  type RegistrationRequest,
  type MasterEvents,
} from './master.js';
export { startMasterServer, type MasterServer, type MasterServerOptions } from './server.js';
export { poolUsage, type PoolUsage } from './usage.js';
export { MasterPools } from './pools.js';
export { allocateNewAgent, extendAgent, reserveRecord, releaseRecord } from './allocate.js';
export { configChanges } from './compat.js';
export {
  HaMaster,
  LEADER_KEY,
  MASTERS_PREFIX,
  clusterStatus,
  parseMasterIdentity,
  type MasterIdentity,
  type ClusterStatus,
} from './ha.js';
export {
  CONTROL_PLANE_ROUTES,
  POST_ONLY_URLS,
  LEASE_OWNERS_PREFIX,
  AGENT_LEASE_QUOTA,
  AGENT_LEASE_MAX_TTL_S,
  StoreGuard,
  agentOwnKeys,
  isReservedKey,
  storeDecision,
  type StoreDecision,
} from './access.js';
