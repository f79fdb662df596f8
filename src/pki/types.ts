// What a control-plane certificate says about its holder, and the PEM files a node keeps.

/** agent: one node (its IPs); master: allocates and publishes; operator: a person or a tool. */
export type Role = 'agent' | 'master' | 'operator';
export const ROLES: readonly Role[] = ['agent', 'master', 'operator'];

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

/** A TLS directory's contents (PEM text): the cluster CA, this holder's certificate and key. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The cluster CA (its key signs every node and operator certificate). */
export interface CaMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Who a chain-verified certificate names. `name` is the CN's part after "<role>:". */
export interface Identity {
  readonly role: Role;
  readonly ips: readonly string[];
  readonly name: string;
}

/** The subject's organisation carries the role (`O=dcnet:<role>`). */
export const ROLE_ORG_PREFIX = 'dcnet:';
