import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IndexPool } from '../../src/overlay/master/pool.js';

test('hands out the lowest free index and re-uses the lowest freed one first', () => {
  const p = new IndexPool(5n);
  assert.deepEqual([p.allocate(), p.allocate(), p.allocate()], [0n, 1n, 2n]);
  p.release(1n);
  p.release(0n);
  assert.equal(p.allocate(), 0n);
  assert.equal(p.allocate(), 1n);
  assert.equal(p.allocate(), 3n);
  assert.equal(p.usedCount, 4);
  assert.equal(p.free, 1n);
});

test('exhaustion returns undefined and recovers after a release', () => {
  const p = new IndexPool(2n);
  p.allocate();
  p.allocate();
  assert.equal(p.allocate(), undefined);
  assert.equal(p.allocate(), undefined);
  p.release(1n);
  assert.equal(p.allocate(), 1n);
});

test('reserve marks specific indices; allocation skips them; out-of-range and doubles are refused', () => {
  const p = new IndexPool(10n);
  assert.ok(p.reserve(0n));
  assert.ok(p.reserve(2n));
  assert.ok(!p.reserve(2n));
  assert.ok(!p.reserve(10n));
  assert.ok(!p.reserve(-1n));
  assert.deepEqual([p.allocate(), p.allocate()], [1n, 3n]);
});

test('huge pools (2^64) cost nothing', () => {
  const p = new IndexPool(1n << 64n);
  for (let i = 0; i < 1000; i++) p.allocate();
  assert.equal(p.free, (1n << 64n) - 1000n);
});
