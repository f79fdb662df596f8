export * from './mesos-state.js';
export * from './poller.js';
