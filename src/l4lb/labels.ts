// VIP labels (specs/dcos-net.md §2.1): `VIP_<n>` port labels whose value is `name:port`,
// `/name:port` or `ip:port`, split at the last colon. A named VIP keeps its raw name (leading `/`
// included); only DNS names and the address hash use the sanitised form.
import { formatAddress, parseAddress, type Family } from '../net/index.js';

export type VipProtocol = 'tcp' | 'udp';

export type VipSpec =
  | { readonly kind: 'named'; readonly name: string; readonly port: number }
  | { readonly kind: 'ip'; readonly ip: string; readonly family: Family; readonly port: number };

/** A label that could not be used: logged and published by name; the other VIPs keep working. */
export interface VipLabelError {
  readonly code:
    | 'VIP_NO_PORT'
    | 'VIP_BAD_PORT'
    | 'VIP_EMPTY_NAME'
    | 'VIP_BAD_PROTOCOL'
    | 'VIP_NAME_UNUSABLE'
    | 'VIP_NO_SUCH_PORT'
    | 'VIP_ADDRESS_FORBIDDEN'
    | 'VIP_OUTSIDE_RANGES'
    | 'VIP_ADDRESS_TAKEN';
  readonly message: string;
  /** Where it was found: task id, port and label key. */
  readonly task: string;
  readonly label: string;
  readonly value: string;
}

/** Keys Marathon writes for VIPs: `VIP_0`, `VIP_1`, … (any case). */
export const isVipLabelKey = (key: string): boolean => /^vip_\d+$/i.test(key);

/** Parses a label value; a string is the reason it is unusable. */
export function parseVipValue(value: string): VipSpec | { error: VipLabelError['code']; reason: string } {
  const colon = value.lastIndexOf(':');
  if (colon < 0) return { error: 'VIP_NO_PORT', reason: `"${value}" has no ":port"` };
  const left = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535))
    return { error: 'VIP_BAD_PORT', reason: `port "${portText}" is not an integer from 1 to 65535` };
  const addr = parseAddress(left);
  if (addr) return { kind: 'ip', ip: formatAddress(addr.family, addr.value), family: addr.family, port };
  if (left.replace(/^\/+/, '') === '') return { error: 'VIP_EMPTY_NAME', reason: `"${value}" has no name` };
  return { kind: 'named', name: left, port };
}

export function parseProtocol(text: string | undefined): VipProtocol | undefined {
  const p = (text ?? 'tcp').toLowerCase();
  return p === 'tcp' || p === 'udp' ? p : undefined;
}
