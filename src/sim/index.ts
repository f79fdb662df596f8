export * from './testbed.js';
export * from './cluster.js';
export * from './docker.js';
export * from './servers.js';
export * from './emulator/index.js';
export * from './demo.js';
export * from './etcd.js';
export * from './cni-plugins.js';
