export * from './types.js';
export * from './render.js';
export * from './master/index.js';
export * from './agent/index.js';
export * from './dataplane/index.js';
export * from './port-mapper/index.js';
