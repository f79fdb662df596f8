export * from './records.js';
export * from './config.js';
export * from './service.js';
export * from './http-api.js';
export * from './daemon.js';
