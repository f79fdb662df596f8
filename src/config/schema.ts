// The shape of a dcnet config file: the DC/OS config.yaml keys dcnet reads. Structure only; the
// rules that relate fields to each other live in validate.ts.
import { z } from 'zod';

// The overlay name grammar lives with the other typed values (net/typed.ts).
export { RESERVED_OVERLAY_NAMES, MAX_OVERLAY_NAME_LENGTH } from '../net/index.js';

const int = z.number().int();

export const overlaySchema = z
  .object({
    name: z.string(),
    subnet: z.string().optional(),
    prefix: int.optional(),
    subnet6: z.string().optional(),
    prefix6: int.optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

export const overlayNetworkSchema = z
  .object({
    vtep_subnet: z.string(),
    vtep_subnet6: z.string().optional(),
    vtep_mac_oui: z.string(),
    vtep_mtu: int.optional(),
    overlays: z.array(overlaySchema),
  })
  .strict();

export type RawOverlay = z.infer<typeof overlaySchema>;
export type RawOverlayNetwork = z.infer<typeof overlayNetworkSchema>;

/** DC/OS writes booleans in config.yaml as strings too ('true'). */
const boolish = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')], {
  error: 'must be true or false',
});

/** In DC/OS config.yaml `dcos_overlay_network` is usually a JSON string; a YAML mapping works too. */
const jsonOrObject = z.preprocess((v, ctx) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not valid JSON: ${(err as Error).message}` });
    return z.NEVER;
  }
}, overlayNetworkSchema);

export const KNOWN_KEYS = [
  'dcos_overlay_network',
  'dcos_overlay_enable',
  'dcos_overlay_mtu',
  'enable_ipv6',
  'dcos_l4lb_min_named_ip',
  'dcos_l4lb_max_named_ip',
  'dcos_l4lb_min_named_ip6',
  'dcos_l4lb_max_named_ip6',
  'dcos_l4lb_ip_vip_ranges',
  'dcnet_overlay_allocation_gc',
] as const;

/** A list as YAML, as a JSON string (config.yaml style) or comma-separated. */
const stringList = z.preprocess((v, ctx) => {
  if (typeof v !== 'string') return v;
  if (v.trim().startsWith('[')) {
    try {
      return JSON.parse(v) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not valid JSON: ${(err as Error).message}` });
      return z.NEVER;
    }
  }
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}, z.array(z.string()));

export const configFileSchema = z
  .object({
    dcos_overlay_network: jsonOrObject.optional(),
    dcos_overlay_enable: boolish.optional(),
    dcos_overlay_mtu: z.union([int, z.string().regex(/^\d+$/).transform(Number)]).optional(),
    enable_ipv6: boolish.optional(),
    dcos_l4lb_min_named_ip: z.string().optional(),
    dcos_l4lb_max_named_ip: z.string().optional(),
    dcos_l4lb_min_named_ip6: z.string().optional(),
    dcos_l4lb_max_named_ip6: z.string().optional(),
    dcos_l4lb_ip_vip_ranges: stringList.optional(),
    // Checked in load.ts (the range), so the message can say what the number means.
    dcnet_overlay_allocation_gc: z
      .union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
      .optional(),
  })
  .passthrough();

export type ConfigFile = z.infer<typeof configFileSchema>;

/** The DC/OS defaults (gen/calc.py). */
export function defaultOverlayNetwork(): RawOverlayNetwork {
  return {
    vtep_subnet: '44.128.0.0/20',
    vtep_subnet6: 'fd01:a::/64',
    vtep_mac_oui: '70:B3:D5:00:00:00',
    overlays: [
      { name: 'dcos', subnet: '9.0.0.0/8', prefix: 24 },
      { name: 'dcos6', subnet6: 'fd01:b::/64', prefix6: 80 },
    ],
  };
}

export const DEFAULT_OVERLAY_MTU = 1420;
/** Seconds an agent's published node entry may be gone before its allocation is freed (flannel's
 *  subnet leases last 24 h). 0 keeps allocations until an operator deletes them. */
export const DEFAULT_ALLOCATION_GC_S = 86_400;
/** Longest allowed: ten years (beyond that, say 0). */
export const MAX_ALLOCATION_GC_S = 10 * 365 * 86_400;
/** VTEP MTU the data plane uses when `vtep_mtu` is not configured. */
export const DEFAULT_VTEP_MTU = 1420;
