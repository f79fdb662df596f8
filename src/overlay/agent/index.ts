export { OverlayAgent, nodeInfoFrom, type AgentOptions } from './agent.js';
export {
  startAgentServer,
  type AgentServer,
  type AgentServerOptions,
  type AgentRole,
  type AgentRoleContext,
} from './server.js';
export { renderCniConflist, renderDcosPortMapperConf, type CniOptions } from './cni.js';
export { dockerNetworkSpec, dockerNetworkDifferences } from './docker-network.js';
export { renderMasqueradeTable, MASQ_TABLE } from './masquerade.js';
export { retry, backoffBound } from './backoff.js';
