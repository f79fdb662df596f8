// Named VIP addresses do not move: the published table is the memory of who holds which address,
// so a colliding name appearing or disappearing leaves existing VIPs where they are, and an IP
// VIP declared on a named VIP's address is refused instead of taking over its clients. A range of
// four addresses makes collisions certain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore } from '../../src/store/index.js';
import { parseMesosState, type MesosState } from '../../src/cluster/index.js';
import {
  allocateNamed,
  deriveVipTable,
  keptAddresses,
  L4lbPublisher,
  namedVipName,
  VIPS_PREFIX,
  type DeriveOptions,
  type Vip,
} from '../../src/l4lb/index.js';
import { pino } from 'pino';

const RANGE = { min: '11.0.0.0', max: '11.0.0.3' };
const OPTS: DeriveOptions = { range4: RANGE, enableIpv6: false };

/** A state with one host-networked task per VIP label value. */
function state(vips: readonly string[]): MesosState {
  return parseMesosState({
    leader: 'master@10.0.0.100:5050',
    slaves: [{ id: 'S0', pid: 'slave(1)@10.0.0.1:5051', hostname: '10.0.0.1' }],
    frameworks: [
      {
        id: 'F0',
        name: 'marathon',
        tasks: vips.map((value, i) => ({
          id: `t${i}`,
          name: `t${i}`,
          framework_id: 'F0',
          slave_id: 'S0',
          state: 'TASK_RUNNING',
          statuses: [{ state: 'TASK_RUNNING', timestamp: 1 }],
          discovery: {
            name: `t${i}`,
            ports: {
              ports: [{ number: 31000 + i, protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value }] } }],
            },
          },
        })),
      },
    ],
  });
}

const home = (label: string): string =>
  allocateNamed([namedVipName(label, 'marathon')], 4, RANGE).get(namedVipName(label, 'marathon'))!;
const addressOf = (vips: readonly Vip[], label: string): string | undefined =>
  vips.find((v) => v.name?.label === label)?.ip;

/** Two labels with the same home address, the second sorting first (so it would win it fresh). */
function collidingPair(): [string, string] {
  const labels = Array.from({ length: 64 }, (_, i) => `/svc${i}`);
  for (const a of labels)
    for (const b of labels)
      if (namedVipName(b, 'marathon') < namedVipName(a, 'marathon') && home(a) === home(b)) return [a, b];
  throw new Error('no colliding pair in 64 names over 4 addresses (impossible)');
}

test('a named VIP keeps its address when a colliding name appears that would win it fresh', () => {
  const [old, newer] = collidingPair();
  const first = deriveVipTable(state([`${old}:80`]), OPTS).table;
  assert.equal(addressOf(first.vips, old), home(old));
  // Fresh (no memory), the newer name sorts first and takes the home address: the old one moves.
  const fresh = deriveVipTable(state([`${old}:80`, `${newer}:80`]), OPTS).table;
  assert.notEqual(addressOf(fresh.vips, old), home(old), 'the collision this test needs');
  // With the published table remembered, the old VIP stays and the newer one goes elsewhere.
  const kept = keptAddresses(first.vips);
  const next = deriveVipTable(state([`${old}:80`, `${newer}:80`]), { ...OPTS, kept }).table;
  assert.equal(addressOf(next.vips, old), home(old));
  assert.notEqual(addressOf(next.vips, newer), home(old));
  // And when the name that lost its home leaves again, nothing moves either.
  const after = deriveVipTable(state([`${newer}:80`]), { ...OPTS, kept: keptAddresses(next.vips) }).table;
  assert.equal(addressOf(after.vips, newer), addressOf(next.vips, newer));
});

test('an IP VIP on the address a named VIP holds is refused by name; the named VIP keeps serving', () => {
  const first = deriveVipTable(state(['/web:80']), OPTS).table;
  const webIp = addressOf(first.vips, '/web')!;
  const { table, errors } = deriveVipTable(state(['/web:80', `${webIp}:80`]), {
    ...OPTS,
    kept: keptAddresses(first.vips),
  });
  assert.equal(addressOf(table.vips, '/web'), webIp);
  const web = table.vips.find((v) => v.ip === webIp)!;
  assert.deepEqual(
    web.backends.map((b) => b.task),
    ['t0'],
    'the IP VIP task did not join /web',
  );
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'VIP_ADDRESS_TAKEN');
  assert.equal(errors[0]!.task, 't1');
  assert.match(errors[0]!.message, /named VIP web\.marathon/);
});

test('the publisher remembers addresses across a leader change (it reads the published table first)', async () => {
  const store = await EmbeddedStore.open();
  const log = pino({ level: 'silent' });
  try {
    const [old, newer] = collidingPair();
    await new L4lbPublisher({ store, log, derive: OPTS }).update(state([`${old}:80`]));
    const before = (await store.range(VIPS_PREFIX)).kvs.map((kv) => JSON.parse(kv.value) as Vip);
    // A new leader: a fresh publisher on the same store.
    await new L4lbPublisher({ store, log, derive: OPTS }).update(state([`${old}:80`, `${newer}:80`]));
    const after = (await store.range(VIPS_PREFIX)).kvs.map((kv) => JSON.parse(kv.value) as Vip);
    assert.equal(addressOf(after, old), addressOf(before, old));
    assert.equal(after.length, 2);
  } finally {
    await store.close();
  }
});
