// The address pools of one master: per overlay the agent slices (IPv4, IPv6), and the VTEP
// addresses (IPv4, IPv6). Each maps between pool indices and the text the state carries.
import type { NetworkConfig, OverlayPoolDef } from '../../config/index.js';
import {
  familyBits,
  formatAddress,
  formatCidr,
  networkOf,
  nthSubnet,
  parseAddress,
  parseCidr,
  type Cidr,
  type Family,
} from '../../net/index.js';
import { IndexPool } from './pool.js';

/** Agent slices of one overlay family: every /prefix network of the subnet, both ends included. */
export class SlicePool {
  readonly pool: IndexPool;
  constructor(readonly def: OverlayPoolDef) {
    this.pool = new IndexPool(1n << BigInt(def.prefix - def.subnet.prefix));
  }

  get family(): Family {
    return this.def.subnet.family;
  }

  text(index: bigint): string {
    return formatCidr(nthSubnet(this.def.subnet, this.def.prefix, index));
  }

  /** The index of a slice given as text, or an explanation why it is not one of this pool's. */
  indexOf(text: string): bigint | string {
    const c = parseCidr(text);
    const { subnet, prefix } = this.def;
    if (!c || c.family !== subnet.family) return `"${text}" is not an IPv${subnet.family} CIDR`;
    if (c.prefix !== prefix) return `${text} is not a /${prefix} slice`;
    if (networkOf(c) !== c.addr) return `${text} has host bits set`;
    const base = networkOf(subnet);
    const shift = BigInt(familyBits(c.family) - prefix);
    const index = (c.addr - base) >> shift;
    if (c.addr < base || index >= this.pool.size) return `${text} is outside ${this.def.text}`;
    return index;
  }

  allocate(): string | undefined {
    const i = this.pool.allocate();
    return i === undefined ? undefined : this.text(i);
  }

  reserve(text: string): string | undefined {
    const i = this.indexOf(text);
    if (typeof i === 'string') return i;
    return this.pool.reserve(i) ? undefined : `${text} is already allocated to another agent`;
  }

  release(text: string): void {
    const i = this.indexOf(text);
    if (typeof i !== 'string') this.pool.release(i);
  }
}

/** VTEP addresses: every host strictly between the first and last address of the VTEP subnet. */
export class HostPool {
  readonly pool: IndexPool;
  private readonly base: bigint;
  constructor(readonly subnet: Cidr) {
    this.base = networkOf(subnet) + 1n;
    this.pool = new IndexPool((1n << BigInt(familyBits(subnet.family) - subnet.prefix)) - 2n);
  }

  /** The address as a number (the MAC derives from the IPv4 one). */
  value(index: bigint): bigint {
    return this.base + index;
  }

  allocate(): { text: string; value: bigint } | undefined {
    const i = this.pool.allocate();
    if (i === undefined) return undefined;
    return { text: formatAddress(this.subnet.family, this.base + i), value: this.base + i };
  }

  indexOf(text: string): bigint | string {
    const a = parseAddress(text);
    if (!a || a.family !== this.subnet.family) return `"${text}" is not an IPv${this.subnet.family} address`;
    const i = a.value - this.base;
    if (i < 0n || i >= this.pool.size) return `${text} is not a host address of ${formatCidr(this.subnet)}`;
    return i;
  }

  reserve(text: string): string | undefined {
    const i = this.indexOf(text);
    if (typeof i === 'string') return i;
    return this.pool.reserve(i) ? undefined : `${text} is already the VTEP of another agent`;
  }

  release(text: string): void {
    const i = this.indexOf(text);
    if (typeof i !== 'string') this.pool.release(i);
  }
}

export interface OverlayPools {
  readonly v4?: SlicePool;
  readonly v6?: SlicePool;
}

export class MasterPools {
  readonly vtep4: HostPool;
  readonly vtep6?: HostPool;
  readonly overlays = new Map<string, OverlayPools>();

  constructor(config: NetworkConfig) {
    this.vtep4 = new HostPool(config.vtep4);
    if (config.vtep6) this.vtep6 = new HostPool(config.vtep6);
    for (const o of config.overlays) {
      this.overlays.set(o.name, {
        ...(o.v4 && { v4: new SlicePool(o.v4) }),
        ...(o.v6 && { v6: new SlicePool(o.v6) }),
      });
    }
  }
}
