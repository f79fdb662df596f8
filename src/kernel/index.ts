export * from './exec.js';
export * from './iproute.js';
export * from './sysctl.js';
export * from './nft.js';
export * from './cni.js';
export * from './docker.js';
export * from './haproxy.js';
