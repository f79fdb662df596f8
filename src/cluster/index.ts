export * from './mesos-state.js';
export * from './poller.js';
export * from './auth.js';
