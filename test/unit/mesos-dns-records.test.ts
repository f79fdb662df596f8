// The Mesos-DNS generator against the complete upstream record set for the fixture
// (specs/mesos-dns.md Appendix A: RFC952, IPSources [netinfo, docker, mesos, host]).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMesosState } from '../../src/cluster/index.js';
import { generateRecords, taskIpsOf } from '../../src/dns/mesos/index.js';
import { fixture } from '../helpers/fixtures.js';

const state = () => {
  const doc = JSON.parse(fixture('mesos-dns/fake.json')) as Record<string, unknown>;
  return parseMesosState({ ...doc, leader: 'master@144.76.157.37:5050' });
};

function expected(): Map<string, Map<string, Set<string>>> {
  const out = new Map<string, Map<string, Set<string>>>([
    ['A', new Map()],
    ['AAAA', new Map()],
    ['SRV', new Map()],
  ]);
  for (const line of fixture('mesos-dns/appendix-a.tsv').trim().split('\n')) {
    const [kind, name, values] = line.split('\t') as [string, string, string];
    out.get(kind)!.set(name, new Set(values.split(' ')));
  }
  return out;
}

const sorted = (m: ReadonlyMap<string, ReadonlySet<string>>) =>
  [...m].map(([k, v]) => [k, [...v].sort()] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));

test('Appendix A: every A, AAAA and SRV record of the fixture, and nothing else', () => {
  const rs = generateRecords(
    state(),
    {
      domain: 'mesos',
      soaMname: 'mesos-dns.mesos.',
      listenerAddrs: ['127.0.0.1'],
      spec: 'rfc952',
      ipSources: ['netinfo', 'docker', 'mesos', 'host'],
      masters: ['144.76.157.37:5050'],
    },
    (host) => (host === 'localhost' ? ['127.0.0.1'] : []),
  );
  const want = expected();
  assert.deepEqual(sorted(rs.a), sorted(want.get('A')!));
  assert.deepEqual(sorted(rs.aaaa), sorted(want.get('AAAA')!));
  assert.deepEqual(sorted(rs.srv), sorted(want.get('SRV')!));
});

test('RFC1123 with the production IPSources differs only as Appendix A says', () => {
  const rs = generateRecords(
    state(),
    {
      domain: 'mesos',
      soaMname: 'mesos-dns.mesos.',
      listenerAddrs: ['127.0.0.1'],
      spec: 'rfc1123',
      ipSources: ['netinfo', 'mesos', 'host'],
      masters: ['144.76.157.37:5050'],
    },
    (host) => (host === 'localhost' ? ['127.0.0.1'] : []),
  );
  assert.ok(rs.a.has('chronoswithaspaceandmixedcase-2.0.1.mesos.'));
  assert.ok(!rs.a.has('chronoswithaspaceandmixe.mesos.'));
  assert.deepEqual([...rs.a.get('liquor-store.marathon.mesos.')!].sort(), ['1.2.3.11', '1.2.3.12']);
  assert.deepEqual([...rs.a.get('nginx.marathon.mesos.')!], ['10.3.0.3']);
});

test('IPSources: first source with a valid IP wins; latest running status; unknown sources ignored', () => {
  const task = {
    id: 't',
    name: 't',
    slave_id: 's',
    state: 'TASK_RUNNING',
    statuses: [
      {
        state: 'TASK_RUNNING',
        timestamp: 1,
        labels: [{ key: 'Docker.NetworkSettings.IPAddress', value: '192.0.2.1' }],
      },
      {
        state: 'TASK_RUNNING',
        timestamp: 5,
        labels: [{ key: 'Docker.NetworkSettings.IPAddress', value: '2.4.6.8' }],
      },
      {
        state: 'TASK_STOPPED',
        timestamp: 9,
        labels: [{ key: 'Docker.NetworkSettings.IPAddress', value: '192.0.2.9' }],
      },
    ],
  };
  assert.deepEqual(taskIpsOf(task as never, ['10.0.0.1'], ['foo', 'docker', 'host']), ['2.4.6.8']);
  assert.deepEqual(taskIpsOf(task as never, ['10.0.0.1'], ['netinfo', 'host']), ['10.0.0.1']);
  assert.deepEqual(taskIpsOf(task as never, ['10.0.0.1'], ['mesos']), []);
});

test('TestMasterRecord (specs/mesos-dns.md §6.3): leader and master records from the masters list', () => {
  const gen = (leader: string, masters: string[]) => {
    const rs = generateRecords(parseMesosState({ leader }), {
      domain: 'foo.com',
      soaMname: 'ns1.foo.com.',
      listenerAddrs: [],
      spec: 'rfc1123',
      ipSources: ['host'],
      masters,
    });
    const flat: Record<string, string[]> = {};
    for (const [kind, map] of [
      ['A', rs.a],
      ['AAAA', rs.aaaa],
      ['SRV', rs.srv],
    ] as const) {
      for (const [name, values] of map) flat[`${kind} ${name}`] = [...values].sort();
    }
    return flat;
  };
  const leaderBase = (ip: string, kind = 'A') => ({
    [`${kind} leader.foo.com.`]: [ip],
    'SRV _leader._tcp.foo.com.': ['leader.foo.com.:7'],
    'SRV _leader._udp.foo.com.': ['leader.foo.com.:7'],
  });
  for (const bad of ['', '@', '1@', '@2', '3@4']) assert.deepEqual(gen(bad, []), {}, `leader "${bad}"`);
  assert.deepEqual(gen('5@0.0.0.6:7', []), {
    ...leaderBase('0.0.0.6'),
    'A master.foo.com.': ['0.0.0.6'],
    'A master0.foo.com.': ['0.0.0.6'],
  });
  assert.deepEqual(gen('5@[2001:db8::1]:7', []), {
    ...leaderBase('2001:db8::1', 'AAAA'),
    'AAAA master.foo.com.': ['2001:db8::1'],
    'AAAA master0.foo.com.': ['2001:db8::1'],
  });
  assert.deepEqual(gen('5@0.0.0.6:7', ['0.0.0.6:7']), {
    ...leaderBase('0.0.0.6'),
    'A master.foo.com.': ['0.0.0.6'],
    'A master0.foo.com.': ['0.0.0.6'],
  });
  const eightThenSix = {
    ...leaderBase('0.0.0.6'),
    'A master.foo.com.': ['0.0.0.6', '0.0.0.8'],
    'A master0.foo.com.': ['0.0.0.8'],
    'A master1.foo.com.': ['0.0.0.6'],
  };
  for (const masters of [
    ['0.0.0.8:9'],
    ['0.0.0.8:9', '0.0.0.8:9'],
    ['0.0.0.8:9', '0.0.0.6:7'],
    ['0.0.0.8:9', '0.0.0.6:7', '0.0.0.6:7'],
  ]) {
    assert.deepEqual(gen('5@0.0.0.6:7', masters), eightThenSix, masters.join(','));
  }
  assert.deepEqual(gen('5@0.0.0.6:7', ['0.0.0.8:9', '0.0.0.6:7', '0.0.0.7:0']), {
    ...eightThenSix,
    'A master.foo.com.': ['0.0.0.6', '0.0.0.7', '0.0.0.8'],
    'A master2.foo.com.': ['0.0.0.7'],
  });
  assert.deepEqual(gen('5@0.0.0.6:7', ['0.0.0.8:9', '0.0.0.6:7', '[2001:db8::1]:0']), {
    ...eightThenSix,
    'AAAA master.foo.com.': ['2001:db8::1'],
    'AAAA master2.foo.com.': ['2001:db8::1'],
  });
  // A host name in the masters list (allowed by the config) must not crash the generator.
  assert.deepEqual(gen('5@0.0.0.6:7', ['mesos1:5050']), gen('5@0.0.0.6:7', []));
});
