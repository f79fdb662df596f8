// What may change in the overlay config of an existing cluster: adding overlays, enabling or
// disabling one, the VTEP MTU, adding vtep_subnet6. Anything that would move addresses already
// handed out is refused at start, naming what differs (the original crash-looped instead).
import { parseCidr, formatCidr } from '../../net/index.js';
import type { NetworkConfig, RawOverlayNetwork } from '../../config/index.js';

function sameCidr(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return a === b;
  return formatCidr(x) === formatCidr(y);
}

const show = (v: string | number | undefined): string => (v === undefined ? '(unset)' : String(v));

export function configChanges(
  stored: RawOverlayNetwork,
  current: NetworkConfig,
): { refused: string[]; accepted: string[] } {
  const refused: string[] = [];
  const accepted: string[] = [];
  const now = current.raw;
  if (!sameCidr(stored.vtep_subnet, now.vtep_subnet)) {
    refused.push(`vtep_subnet changed from ${stored.vtep_subnet} to ${now.vtep_subnet}`);
  }
  if (stored.vtep_subnet6 !== undefined && !sameCidr(stored.vtep_subnet6, now.vtep_subnet6)) {
    refused.push(`vtep_subnet6 changed from ${stored.vtep_subnet6} to ${show(now.vtep_subnet6)}`);
  } else if (stored.vtep_subnet6 === undefined && now.vtep_subnet6 !== undefined) {
    accepted.push(`vtep_subnet6 ${now.vtep_subnet6} added: agents get a VTEP IPv6 when they register again`);
  }
  if (stored.vtep_mac_oui.toLowerCase() !== now.vtep_mac_oui.toLowerCase()) {
    refused.push(`vtep_mac_oui changed from ${stored.vtep_mac_oui} to ${now.vtep_mac_oui}`);
  }
  if (stored.vtep_mtu !== now.vtep_mtu)
    accepted.push(`vtep_mtu changed from ${show(stored.vtep_mtu)} to ${show(now.vtep_mtu)}`);
  const byName = new Map(now.overlays.map((o) => [o.name, o]));
  for (const old of stored.overlays) {
    const cur = byName.get(old.name);
    if (!cur) {
      refused.push(`overlay "${old.name}" was removed (or renamed)`);
      continue;
    }
    for (const field of ['subnet', 'subnet6'] as const) {
      if (!sameCidr(old[field], cur[field])) {
        refused.push(
          `overlay "${old.name}": ${field} changed from ${show(old[field])} to ${show(cur[field])}`,
        );
      }
    }
    for (const field of ['prefix', 'prefix6'] as const) {
      if (old[field] !== cur[field]) {
        refused.push(
          `overlay "${old.name}": ${field} changed from ${show(old[field])} to ${show(cur[field])}`,
        );
      }
    }
    if ((old.enabled ?? true) !== (cur.enabled ?? true)) {
      accepted.push(
        `overlay "${old.name}" ${(cur.enabled ?? true) ? 'enabled' : 'disabled: agents that have it keep it'}`,
      );
    }
  }
  const oldNames = new Set(stored.overlays.map((o) => o.name));
  for (const o of now.overlays) if (!oldNames.has(o.name)) accepted.push(`overlay "${o.name}" added`);
  return { refused, accepted };
}
