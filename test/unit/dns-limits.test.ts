// The DNS overload protections without sockets: forwarding slots and the per-client token
// bucket (fake clock): rate, burst, refill, exemptions, the bounded client table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientRateLimit, InFlightLimit } from '../../src/dns/server/index.js';

test('InFlightLimit: at most max taken; release gives one back; bad sizes refused', () => {
  const l = new InFlightLimit(2);
  assert.ok(l.tryTake());
  assert.ok(l.tryTake());
  assert.ok(!l.tryTake());
  assert.equal(l.inUse, 2);
  l.release();
  assert.ok(l.tryTake());
  l.release();
  l.release();
  l.release();
  assert.equal(l.inUse, 0, 'never below zero');
  assert.throws(() => new InFlightLimit(0), /in-flight limit: must be a positive integer \(got 0\)/);
});

test('ClientRateLimit: a burst, then qps; each client has its own bucket', () => {
  let now = 1_000_000;
  const r = new ClientRateLimit({ qps: 10, burst: 5, now: () => now });
  const take = (addr: string, n: number): number => {
    let ok = 0;
    for (let i = 0; i < n; i++) if (r.allow(addr)) ok++;
    return ok;
  };
  assert.equal(take('192.0.2.1', 20), 5, 'the burst');
  assert.equal(take('192.0.2.2', 3), 3, 'another client is not affected');
  now += 100; // one token at 10 qps
  assert.equal(take('192.0.2.1', 5), 1);
  now += 250;
  assert.equal(take('192.0.2.1', 5), 2, '2.5 tokens: 2 whole');
  now += 50;
  assert.equal(take('192.0.2.1', 5), 1, 'the half token carried over');
  now += 60_000;
  assert.equal(take('192.0.2.1', 20), 5, 'refill is capped at the burst');
  assert.equal(r.limited, 15 + 4 + 3 + 4 + 15);
  const dflt = new ClientRateLimit({ qps: 3, now: () => now });
  let ok = 0;
  for (let i = 0; i < 10; i++) if (dflt.allow('192.0.2.9')) ok++;
  assert.equal(ok, 3, 'burst defaults to one second of qps');
});

test('ClientRateLimit: exempt addresses and CIDRs are never limited; bad entries named', () => {
  const r = new ClientRateLimit({ qps: 1, exempt: ['127.0.0.0/8', '2001:db8::1'], now: () => 0 });
  for (let i = 0; i < 100; i++) assert.ok(r.allow('127.0.0.1') && r.allow('2001:db8::1'));
  assert.ok(r.allow('192.0.2.1'));
  assert.ok(!r.allow('192.0.2.1'));
  assert.equal(r.size, 1, 'exempt clients take no bucket');
  assert.throws(() => new ClientRateLimit({ qps: 1, exempt: ['10.0.0.0/40'] }), /rate limit exempt\[0\]/);
  assert.throws(() => new ClientRateLimit({ qps: 0 }), /qps: must be > 0/);
  assert.throws(() => new ClientRateLimit({ qps: 5, burst: 0.5 }), /burst: must be ≥ 1/);
});

test('ClientRateLimit: the client table is bounded; a flood of new addresses does not reset a limited client', () => {
  let now = 0;
  const r = new ClientRateLimit({ qps: 1, burst: 2, maxClients: 100, now: () => now });
  assert.ok(r.allow('192.0.2.1') && r.allow('192.0.2.1'));
  assert.ok(!r.allow('192.0.2.1'), 'limited');
  // 1000 one-off (e.g. spoofed) sources.
  for (let i = 0; i < 2000; i++) r.allow(`198.51.${i >> 8}.${i & 255}`);
  assert.ok(r.size <= 100, `${r.size} buckets`);
  assert.ok(!r.allow('192.0.2.1'), 'the limited client kept its empty bucket');
  // Once refilled a bucket may be forgotten: nothing is lost.
  now += 10_000;
  for (let i = 0; i < 1000; i++) r.allow(`10.9.${i >> 8}.${i & 255}`);
  assert.ok(r.size <= 100);
  assert.ok(r.allow('192.0.2.1'));
});
