// dcnet's `mesos-cni-port-mapper` and the CNI shapes Mesos reads (also used by the emulator).
export * from './spec.js';
export { planPortMapper, executePortMapper, whichIn, PluginError } from './plugin.js';
