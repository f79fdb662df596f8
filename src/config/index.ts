export * from './schema.js';
export * from './validate.js';
export * from './load.js';
export * from './l4lb.js';
