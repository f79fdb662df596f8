export * from './mesos-state.js';
