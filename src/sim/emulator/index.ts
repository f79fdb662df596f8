export * from './apps.js';
export * from './topology.js';
export * from './emulator.js';
export * from './render.js';
export * from './api.js';
export {
  agentIsolator,
  agentIsolatorFor,
  launchTask,
  mesosBridgeConflist,
  type LaunchedTask,
} from './launcher.js';
export * from './mesos-cni.js';
export * from './auth.js';
