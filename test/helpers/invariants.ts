// The allocation invariants every crash and failover test checks: each answered registration is
// in the state exactly as answered, and no subnet, VTEP address or MAC is held by two agents.
import assert from 'node:assert/strict';
import type { AgentInfo } from '../../src/overlay/index.js';

/** Drops the per-overlay `state` (configuration status, not allocation). */
export const allocationOf = (info: AgentInfo): AgentInfo => ({
  ...info,
  ...(info.overlays && { overlays: info.overlays.map(({ state: _state, ...o }) => o) }),
});

export function checkAllocations(
  answered: ReadonlyMap<string, AgentInfo>,
  state: readonly AgentInfo[],
  context = '',
): void {
  const byIp = new Map(state.map((a) => [a.ip, a]));
  for (const [ip, info] of answered) {
    const now = byIp.get(ip);
    assert.ok(now, `${context}${ip} was answered but is not in the state`);
    assert.deepEqual(allocationOf(now), allocationOf(info), `${context}${ip} changed`);
  }
  const held = new Map<string, string>();
  const hold = (what: string | undefined, owner: string): void => {
    if (what === undefined) return;
    const other = held.get(what);
    assert.ok(other === undefined || other === owner, `${context}${what} held by ${other} and ${owner}`);
    held.set(what, owner);
  };
  for (const a of state) {
    const vx = a.overlays?.[0]?.backend.vxlan;
    hold(vx && `vtep ${vx.vtep_ip}`, a.ip);
    hold(vx?.vtep_ip6 && `vtep6 ${vx.vtep_ip6}`, a.ip);
    hold(vx && `mac ${vx.vtep_mac}`, a.ip);
    for (const o of a.overlays ?? []) {
      hold(o.subnet && `subnet ${o.subnet}`, a.ip);
      hold(o.subnet6 && `subnet6 ${o.subnet6}`, a.ip);
      assert.deepEqual(o.backend, a.overlays![0]!.backend, `${context}${a.ip}: one backend per node`);
    }
  }
}
