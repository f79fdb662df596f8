// CNI network configs for Mesos containers (specs/overlay.md §4.4): one conflist per overlay with a
// Mesos bridge, for the real plugins (bridge + host-local + portmap), with IPv6 ranges beyond the
// original; and the DC/OS port-mapper form byte for byte for those who still run it.
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

export function renderCniConflist(overlay: AgentOverlayInfo, opts: CniOptions): CniConflist | undefined {
  const bridge = overlay.mesos_bridge;
  if (!bridge || (bridge.ip === undefined && bridge.ip6 === undefined)) return undefined;
  const ranges = [
    ...(bridge.ip !== undefined ? [[{ subnet: bridge.ip }]] : []),
    ...(bridge.ip6 !== undefined ? [[{ subnet: bridge.ip6 }]] : []),
  ];
  const routes = [
    ...(bridge.ip !== undefined ? [{ dst: '0.0.0.0/0' }] : []),
    ...(bridge.ip6 !== undefined ? [{ dst: '::/0' }] : []),
  ];
  return {
    cniVersion: '1.0.0',
    name: overlay.info.name,
    plugins: [
      bridgePlugin(bridge.name, opts, { ranges, routes }),
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
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
