// CNI network configs for Mesos containers (specs/overlay.md §4.4): one conflist per overlay with a
// Mesos bridge, for the real plugins (bridge + host-local + portmap), with IPv6 ranges beyond the
// original; and the DC/OS port-mapper form byte for byte for those who still run it.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isOverlayName, quote, stoutEscape, type OverlayName } from '../../net/index.js';
import type { CniConflist } from '../../kernel/index.js';
import type { AgentOverlayInfo } from '../types.js';

export interface CniOptions {
  /** Container MTU (dcos_overlay_mtu). */
  readonly mtu: number;
  /** host-local's lease directory (DC/OS: a tmpfs, so that leases vanish on reboot). */
  readonly dataDir?: string;
}

/** The bridge plugin's config for the Mesos half: both forms share it and differ only in IPAM. */
function bridgePlugin(
  bridgeName: string,
  opts: CniOptions,
  ipam: Record<string, unknown>,
): Record<string, unknown> {
  return {
    type: 'bridge',
    bridge: bridgeName,
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    mtu: opts.mtu,
    ipam: { type: 'host-local', ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }), ...ipam },
  };
}

/** host-local ranges and default routes for the Mesos half: IPv4, IPv6, or both in one IPAM. */
function bridgeIpam(bridge: { ip?: string | undefined; ip6?: string | undefined }): {
  ranges: { subnet: string }[][];
  routes: { dst: string }[];
} {
  return {
    ranges: [
      ...(bridge.ip !== undefined ? [[{ subnet: bridge.ip }]] : []),
      ...(bridge.ip6 !== undefined ? [[{ subnet: bridge.ip6 }]] : []),
    ],
    routes: [
      ...(bridge.ip !== undefined ? [{ dst: '0.0.0.0/0' }] : []),
      ...(bridge.ip6 !== undefined ? [{ dst: '::/0' }] : []),
    ],
  };
}

export function renderCniConflist(overlay: AgentOverlayInfo, opts: CniOptions): CniConflist | undefined {
  const bridge = overlay.mesos_bridge;
  if (!bridge || (bridge.ip === undefined && bridge.ip6 === undefined)) return undefined;
  const { ranges, routes } = bridgeIpam(bridge);
  return {
    cniVersion: '1.0.0',
    name: overlay.info.name,
    plugins: [
      bridgePlugin(bridge.name, opts, { ranges, routes }),
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** The version the Mesos form declares: Mesos reads a plugin's result as the 0.2.0 shape (`ip4`,
 *  `ip6`), so the delegate must answer in it; a 0.3.0+ config makes `bridge` answer with `ips`,
 *  which Mesos parses as no address at all. */
export const MESOS_CONF_CNI_VERSION = '0.2.0';

/** `<cni_dir>/<name>.conf` for Mesos' network/cni isolator (the default): one network per file,
 *  `mesos-cni-port-mapper` delegating to `bridge` as DC/OS writes it, but with the IPv4 and the
 *  IPv6 range together, so one attachment gives the task both `ip4` and `ip6`. */
export function renderMesosCniConf(overlay: AgentOverlayInfo, opts: CniOptions): string | undefined {
  const bridge = overlay.mesos_bridge;
  if (!bridge || (bridge.ip === undefined && bridge.ip6 === undefined)) return undefined;
  const { ranges, routes } = bridgeIpam(bridge);
  const conf = {
    cniVersion: MESOS_CONF_CNI_VERSION,
    name: overlay.info.name,
    type: 'mesos-cni-port-mapper',
    excludeDevices: [bridge.name],
    chain: bridge.name.toUpperCase(),
    delegate: { cniVersion: MESOS_CONF_CNI_VERSION, ...bridgePlugin(bridge.name, opts, { ranges, routes }) },
  };
  return `${JSON.stringify(conf, null, 2)}\n`;
}

/** `<cni_dir>/<name>.conf` as the DC/OS agent module writes it: IPv4 only, fixed key order. */
export function renderDcosPortMapperConf(overlay: AgentOverlayInfo, opts: CniOptions): string | undefined {
  const bridge = overlay.mesos_bridge;
  if (!bridge || bridge.ip === undefined || overlay.info.subnet === undefined) return undefined;
  return stoutEscape(
    JSON.stringify({
      name: overlay.info.name,
      type: 'mesos-cni-port-mapper',
      excludeDevices: [bridge.name],
      chain: bridge.name.toUpperCase(),
      delegate: bridgePlugin(bridge.name, opts, { subnet: bridge.ip, routes: [{ dst: '0.0.0.0/0' }] }),
    }),
  );
}

/** `<dir>/<overlay>.<ext>`: the name is re-checked against the overlay grammar and the result must
 *  sit directly in `dir`, so that no overlay name can become a path elsewhere. */
export function cniConfigPath(dir: string, name: OverlayName, ext: 'conflist' | 'conf'): string {
  if (!isOverlayName(name)) throw new Error(`refusing CNI config name ${quote(name)}: not an overlay name`);
  const path = join(dir, `${name}.${ext}`);
  if (dirname(resolve(path)) !== resolve(dir))
    throw new Error(`refusing CNI config path ${quote(path)}: outside ${quote(dir)}`);
  return path;
}

/** Where DC/OS points the Mesos agent's --network_cni_config_dir. */
export const DCOS_CNI_DIR = '/opt/mesosphere/etc/dcos/network/cni';

/** DC/OS' directory on a DC/OS-style install (/opt/mesosphere present), else the common one. */
export function defaultMesosCniDir(exists: (p: string) => boolean = existsSync): string {
  return exists('/opt/mesosphere') ? DCOS_CNI_DIR : '/etc/cni/net.d';
}
