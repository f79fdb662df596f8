// A pool of indices 0..size-1 that always hands out the lowest free one, as the DC/OS master does
// (freed addresses are re-used first). `hint` is a lower bound of the free indices, so sequential
// allocation is O(1) and sizes up to 2^128 cost nothing.

export class IndexPool {
  private readonly used = new Set<bigint>();
  private hint = 0n;

  constructor(readonly size: bigint) {}

  get usedCount(): number {
    return this.used.size;
  }

  get free(): bigint {
    return this.size - BigInt(this.used.size);
  }

  has(index: bigint): boolean {
    return this.used.has(index);
  }

  allocate(): bigint | undefined {
    let i = this.hint;
    while (i < this.size && this.used.has(i)) i++;
    this.hint = i;
    if (i >= this.size) return undefined;
    this.used.add(i);
    this.hint = i + 1n;
    return i;
  }

  /** Marks a specific index used; false if out of range or already used. */
  reserve(index: bigint): boolean {
    if (index < 0n || index >= this.size || this.used.has(index)) return false;
    this.used.add(index);
    return true;
  }

  release(index: bigint): void {
    if (this.used.delete(index) && index < this.hint) this.hint = index;
  }
}
