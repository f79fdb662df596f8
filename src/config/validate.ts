// Semantic validation of the overlay network config: the rules of specs/overlay.md §2.1 plus the
// ones the original forgot (prefix ranges, overlap with the VTEP pools, empty names, no subnet).
// Every problem is collected, each naming the field and the overlay, so one run shows them all.
import {
  parseCidr,
  cidrsOverlap,
  parseOui,
  formatCidr,
  isOverlayName,
  type Cidr,
  type OverlayName,
  type Oui,
} from '../net/index.js';
import { MAX_OVERLAY_NAME_LENGTH, RESERVED_OVERLAY_NAMES, type RawOverlayNetwork } from './schema.js';

export interface OverlayPoolDef {
  /** The overlay subnet as the operator wrote it (echoed verbatim in the state). */
  readonly text: string;
  readonly subnet: Cidr;
  /** Prefix length of each agent's slice. */
  readonly prefix: number;
}

export interface OverlayDef {
  /** Checked against the overlay name grammar (the config is refused otherwise). */
  readonly name: OverlayName;
  readonly enabled: boolean;
  readonly v4?: OverlayPoolDef;
  readonly v6?: OverlayPoolDef;
}

export interface NetworkConfig {
  /** The config as written (plus explicit `enabled`), for `network` in the state. */
  readonly raw: RawOverlayNetwork;
  readonly vtep4: Cidr;
  readonly vtep6?: Cidr;
  readonly oui: Oui;
  readonly vtepMtu?: number;
  readonly overlays: readonly OverlayDef[];
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MIN_MTU = 552;
const MAX_MTU = 65535;

const BASE = 'dcos_overlay_network';

export function validateOverlayNetwork(raw: RawOverlayNetwork): NetworkConfig {
  const problems: string[] = [];

  const vtep4 = parseCidr(raw.vtep_subnet);
  if (!vtep4 || vtep4.family !== 4) {
    problems.push(`${BASE}.vtep_subnet: "${raw.vtep_subnet}" is not an IPv4 CIDR`);
  } else if (vtep4.prefix < 8 || vtep4.prefix > 30) {
    problems.push(
      `${BASE}.vtep_subnet: prefix /${vtep4.prefix} is out of range: must be /8 to /30 ` +
        `(VTEP MACs use the low 24 bits of the VTEP IP, and the pool needs at least two hosts)`,
    );
  }

  let vtep6: Cidr | undefined;
  if (raw.vtep_subnet6 !== undefined) {
    vtep6 = parseCidr(raw.vtep_subnet6);
    if (!vtep6 || vtep6.family !== 6) {
      problems.push(`${BASE}.vtep_subnet6: "${raw.vtep_subnet6}" is not an IPv6 CIDR`);
      vtep6 = undefined;
    } else if (vtep6.prefix > 126) {
      problems.push(`${BASE}.vtep_subnet6: prefix /${vtep6.prefix} leaves no VTEP addresses (max /126)`);
    }
  }

  const oui = parseOui(raw.vtep_mac_oui);
  if (typeof oui === 'string') problems.push(`${BASE}.vtep_mac_oui: ${oui}`);

  if (raw.vtep_mtu !== undefined && (raw.vtep_mtu < MIN_MTU || raw.vtep_mtu > MAX_MTU)) {
    problems.push(`${BASE}.vtep_mtu: ${raw.vtep_mtu} is out of range: must be ${MIN_MTU} to ${MAX_MTU}`);
  }

  if (raw.overlays.length === 0) problems.push(`${BASE}.overlays: at least one overlay is required`);

  const overlays: OverlayDef[] = [];
  const seen = new Map<string, number>();
  const accepted: { index: number; name: string; cidr: Cidr }[] = [];
  raw.overlays.forEach((o, i) => {
    const where = (field: string): string => `${BASE}.overlays[${i}].${field} (overlay "${o.name}")`;
    if (o.name === '') problems.push(`${BASE}.overlays[${i}].name: must not be empty`);
    else if (o.name.length > MAX_OVERLAY_NAME_LENGTH) {
      problems.push(
        `${where('name')}: ${o.name.length} characters is too long: at most ${MAX_OVERLAY_NAME_LENGTH} ` +
          `(bridge names m-<name>/d-<name> must fit Linux's 15-character interface names)`,
      );
    } else if (!NAME_PATTERN.test(o.name)) {
      problems.push(
        `${where('name')}: may only contain letters, digits, '_', '.' and '-', starting alphanumeric`,
      );
    }
    if ((RESERVED_OVERLAY_NAMES as readonly string[]).includes(o.name)) {
      problems.push(`${where('name')}: "${o.name}" is reserved (${RESERVED_OVERLAY_NAMES.join(', ')})`);
    } else if (o.name !== '' && o.name.length <= MAX_OVERLAY_NAME_LENGTH && !isOverlayName(o.name)) {
      // The checks above are the grammar's; this catches any rule added there later.
      problems.push(`${where('name')}: is not a valid overlay name`);
    }
    const first = seen.get(o.name);
    if (first !== undefined) problems.push(`${where('name')}: duplicate of overlays[${first}]`);
    else seen.set(o.name, i);

    if (o.subnet === undefined && o.subnet6 === undefined) {
      problems.push(`${BASE}.overlays[${i}] (overlay "${o.name}"): needs a subnet, a subnet6, or both`);
    }

    const pool = (family: 4 | 6): OverlayPoolDef | undefined => {
      const [sField, pField] = family === 4 ? ['subnet', 'prefix'] : ['subnet6', 'prefix6'];
      const text = family === 4 ? o.subnet : o.subnet6;
      const prefix = family === 4 ? o.prefix : o.prefix6;
      if (text === undefined) {
        if (prefix !== undefined) problems.push(`${where(pField)}: is set but ${sField} is missing`);
        return undefined;
      }
      const subnet = parseCidr(text);
      if (!subnet || subnet.family !== family) {
        problems.push(`${where(sField)}: "${text}" is not an IPv${family} CIDR`);
        return undefined;
      }
      if (prefix === undefined) {
        problems.push(
          `${where(pField)}: is required with ${sField} (the prefix length of each agent's slice)`,
        );
        return undefined;
      }
      const max = family === 4 ? 30 : 126;
      if (prefix < subnet.prefix || prefix > max) {
        problems.push(
          `${where(pField)}: ${prefix} is out of range: must be ${subnet.prefix} (the overlay's own prefix) ` +
            `to ${max} (each slice is split into a Mesos and a Docker half)`,
        );
        return undefined;
      }
      for (const other of accepted) {
        if (cidrsOverlap(other.cidr, subnet)) {
          problems.push(
            `${where(sField)}: ${text} overlaps overlays[${other.index}] "${other.name}" (${formatCidr(other.cidr)})`,
          );
          return undefined;
        }
      }
      const vtep = family === 4 ? vtep4 : vtep6;
      if (vtep && vtep.family === family && cidrsOverlap(vtep, subnet)) {
        problems.push(
          `${where(sField)}: ${text} overlaps the VTEP pool ${family === 4 ? 'vtep_subnet' : 'vtep_subnet6'} ` +
            `(${formatCidr(vtep)})`,
        );
        return undefined;
      }
      accepted.push({ index: i, name: o.name, cidr: subnet });
      return { text, subnet, prefix };
    };
    const v4 = pool(4);
    const v6 = pool(6);
    overlays.push({
      name: o.name as OverlayName,
      enabled: o.enabled ?? true,
      ...(v4 && { v4 }),
      ...(v6 && { v6 }),
    });
  });

  if (problems.length > 0 || !vtep4 || typeof oui === 'string') throw new ConfigError(problems);
  return {
    raw: { ...raw, overlays: raw.overlays.map((o) => ({ ...o, enabled: o.enabled ?? true })) },
    vtep4,
    ...(vtep6 && { vtep6 }),
    oui,
    ...(raw.vtep_mtu !== undefined && { vtepMtu: raw.vtep_mtu }),
    overlays,
  };
}
