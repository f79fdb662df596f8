export { OverlayAgent, nodeInfoFrom, type AgentOptions } from './agent.js';
export {
  startAgentServer,
  type AgentServer,
  type AgentServerOptions,
  type AgentRole,
  type AgentRoleContext,
} from './server.js';
export { cniConfigPath, renderCniConflist, renderDcosPortMapperConf, type CniOptions } from './cni.js';
export { dockerNetworkSpec, dockerNetworkDifferences } from './docker-network.js';
export { retry, backoffBound } from './backoff.js';
