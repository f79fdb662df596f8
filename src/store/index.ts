export * from './types.js';
export { EmbeddedStore, type EmbeddedStoreOptions, type RecoveryReport } from './embedded.js';
