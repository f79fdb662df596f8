export * from './ip.js';
export * from './mac.js';
export * from './stout-json.js';
