export * from './ip.js';
export * from './mac.js';
export * from './typed.js';
export * from './schemas.js';
export * from './stout-json.js';
export * from './dns-labels.js';
export * from './task-hash.js';
export * from './dcos-labels.js';
