// Layer 7: a Marathon-LB-compatible HAProxy controller (`dcnet lb`).
export { pyFormat, pyStr, TemplateError } from './format.js';
export {
  Templater,
  TEMPLATES,
  TEMPLATE_LABELS,
  defaultHead,
  globalOptions,
  isolationLines,
  withIsolation,
  type HeadOptions,
  type Isolation,
  type TemplateName,
} from './templates.js';
export { serverId, cookieOf } from './server-id.js';
export {
  APP_LABELS,
  BIND_OPTIONS,
  LabelError,
  PORT_LABELS,
  parseAppLabels,
  parsePortLabels,
  type AppLabelName,
  type PortLabelName,
} from './labels.js';
export { parseApps, stripNulls, type MarathonApp, type MarathonTask } from './marathon.js';
export {
  buildServices,
  hostsToResolve,
  taskIpAndPorts,
  networkingMode,
  ServicePortAssigner,
  healthCheckFor,
  mergeDeploymentGroups,
  parseBool,
  type Service,
  type Backend,
  type ServiceOptions,
} from './services.js';
export {
  renderConfig,
  backendName,
  serverName,
  serviceInGroups,
  type RenderOptions,
  type RenderResult,
} from './render.js';
export { parseConfig, planRuntime, type ConfigModel, type RuntimePlan } from './config-model.js';
export { Haproxy, ReloadError, selfSignedCert } from './haproxy.js';
export { runtimeCommand } from './runtime.js';
export { MarathonClient, EventStream, RELEVANT_EVENTS } from './marathon-client.js';
export { LbController, blame, type LbStatus } from './controller.js';
export { createLbMetrics, type LbMetrics } from './metrics.js';
export {
  startLb,
  renderOnce,
  effectiveHead,
  isolationOf,
  HeadError,
  type LbOptions,
  type RunningLb,
} from './lb.js';
export { lbApi } from './server.js';
export { redactConfig, REDACTED } from './redact.js';
