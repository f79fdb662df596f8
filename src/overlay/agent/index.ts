export { OverlayAgent, nodeInfoFrom, type AgentOptions } from './agent.js';
export {
  startAgentServer,
  type AgentServer,
  type AgentServerOptions,
  type AgentRole,
  type AgentRoleContext,
} from './server.js';
export {
  cniConfigPath,
  defaultMesosCniDir,
  renderCniConflist,
  renderDcosPortMapperConf,
  renderMesosCniConf,
  DCOS_CNI_DIR,
  MESOS_CONF_CNI_VERSION,
  type CniOptions,
} from './cni.js';
export { dockerNetworkSpec, dockerNetworkDifferences } from './docker-network.js';
export { retry, backoffBound } from './backoff.js';
