// Loads a dcnet config file (YAML, a superset of DC/OS config.yaml) into a validated DcnetConfig.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import {
  configFileSchema,
  defaultOverlayNetwork,
  DEFAULT_OVERLAY_MTU,
  DEFAULT_VTEP_MTU,
  DEFAULT_ALLOCATION_GC_S,
  MAX_ALLOCATION_GC_S,
  KNOWN_KEYS,
  type RawOverlayNetwork,
} from './schema.js';
import { ConfigError, validateOverlayNetwork, type NetworkConfig } from './validate.js';
import { validateL4lb, type L4lbConfig } from './l4lb.js';

export interface DcnetConfig {
  readonly network: NetworkConfig;
  readonly overlayEnabled: boolean;
  /** Container-side MTU (CNI and Docker). */
  readonly overlayMtu: number;
  readonly enableIpv6: boolean;
  /** Named-VIP ranges and where IP VIPs may be. */
  readonly l4lb: L4lbConfig;
  /** `dcnet_overlay_allocation_gc`: seconds a departed agent keeps its allocation (0: forever). */
  readonly allocationGcSeconds: number;
  /** Keys dcnet does not use (a full DC/OS config.yaml has many); logged, not fatal. */
  readonly ignoredKeys: readonly string[];
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

/** Validates an already-parsed config document (a YAML/JSON object). */
export function parseConfig(doc: unknown): DcnetConfig {
  if (doc === null || doc === undefined) doc = {};
  const parsed = configFileSchema.safeParse(doc);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        let where = pathText(issue.path);
        // Name the overlay too, so that the message can be acted on without counting array items.
        const [top, list, index] = issue.path;
        if (top === 'dcos_overlay_network' && list === 'overlays' && typeof index === 'number') {
          const net = (doc as { dcos_overlay_network?: { overlays?: { name?: unknown }[] } })
            .dcos_overlay_network;
          const name = typeof net === 'object' ? net?.overlays?.[index]?.name : undefined;
          if (typeof name === 'string') where += ` (overlay "${name}")`;
        }
        return `${where}: ${issue.message}`;
      }),
    );
  }
  const file = parsed.data;
  const enableIpv6 = file.enable_ipv6 ?? true;
  let raw: RawOverlayNetwork = file.dcos_overlay_network ?? defaultOverlayNetwork();
  if (!enableIpv6) {
    // As the DC/OS installer does: IPv6-only overlays are disabled when IPv6 is off.
    raw = {
      ...raw,
      overlays: raw.overlays.map((o) =>
        o.subnet === undefined && o.subnet6 !== undefined ? { ...o, enabled: false } : o,
      ),
    };
  }
  const overlayMtu = file.dcos_overlay_mtu ?? DEFAULT_OVERLAY_MTU;
  if (overlayMtu < 552 || overlayMtu > 65535) {
    throw new ConfigError([`dcos_overlay_mtu: ${overlayMtu} is out of range: must be 552 to 65535`]);
  }
  const network = validateOverlayNetwork(raw);
  const problems: string[] = [];
  // Containers send packets up to their MTU; the VXLAN device must carry them (the agent uses
  // DEFAULT_VTEP_MTU when vtep_mtu is not set).
  const vtepMtu = network.vtepMtu ?? DEFAULT_VTEP_MTU;
  if (overlayMtu > vtepMtu)
    problems.push(
      `dcos_overlay_mtu: ${overlayMtu} is above dcos_overlay_network.vtep_mtu ` +
        `(${network.vtepMtu ?? `${DEFAULT_VTEP_MTU}, the default`}): container packets would not fit the VXLAN device`,
    );
  const gc = file.dcnet_overlay_allocation_gc ?? DEFAULT_ALLOCATION_GC_S;
  if (!Number.isInteger(gc) || gc < 0 || gc > MAX_ALLOCATION_GC_S)
    problems.push(
      `dcnet_overlay_allocation_gc: ${gc} is not valid: must be whole seconds from 0 (never free) to ${MAX_ALLOCATION_GC_S}`,
    );
  const l4lb = validateL4lb(file, network, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    network,
    l4lb,
    overlayEnabled: file.dcos_overlay_enable ?? true,
    overlayMtu,
    enableIpv6,
    allocationGcSeconds: gc,
    ignoredKeys: Object.keys(file).filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k)),
  };
}

export function parseConfigText(text: string, source = 'config'): DcnetConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${source}: not valid YAML: ${(err as Error).message}`]);
  }
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new ConfigError([`${source}: must be a mapping of config keys`]);
  }
  return parseConfig(doc);
}

/** Reads and validates a config file; without a path, the DC/OS defaults. */
export async function loadConfig(path?: string): Promise<DcnetConfig> {
  if (path === undefined) return parseConfig({});
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read: ${(err as Error).message}`]);
  }
  return parseConfigText(text, path);
}
