export * from './types.js';
export { createCa, issueCertificate, PkiError, type CaOptions, type IssueOptions } from './certs.js';
export {
  writeCaDir,
  loadCaDir,
  writeTlsDir,
  loadTlsDir,
  tlsDirPaths,
  CA_CERT_FILE,
  CA_KEY_FILE,
  CERT_FILE,
  KEY_FILE,
  TLS_DIR_ENV,
} from './files.js';
export { identityOf, peerIdentity, describeIdentity } from './identity.js';
export {
  serverTlsOptions,
  tlsDispatcher,
  tlsClient,
  plainClient,
  peerRoleCheck,
  type ControlClient,
  type TlsClientOptions,
} from './tls.js';
export {
  installAuth,
  type Access,
  type AuthGuard,
  type AuthOptions,
  type RefusalReason,
  type RouteRule,
} from './auth.js';
