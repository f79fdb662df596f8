// What keeps one busy client or one dead upstream from taking the node's DNS down.
//
//   * InFlightLimit: slots for forwarded queries only. Answers the node has itself (local zones,
//     the Mesos responder, cache hits, refusals) never wait for a slot, so `ready.spartan` and
//     `*.thisdcos.directory` answer at once even when dead upstreams hold every slot.

/** A counter of slots: `tryTake()` before the work, `release()` after it. */
export class InFlightLimit {
  private used = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new Error(`in-flight limit: must be a positive integer (got ${max})`);
    }
  }

  get inUse(): number {
    return this.used;
  }

  tryTake(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }
}
