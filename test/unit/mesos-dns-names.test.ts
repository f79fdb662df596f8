// Mesos-DNS names: the upstream label tables (records/labels/labels_test.go) and hash vectors
// (records/generator_test.go and the fake.json fixture), as specs/mesos-dns.md §1.3–§1.4 give them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentTail, domainFrag, labelSpec, taskHash } from '../../src/net/index.js';

test('label sanitising, RFC1123 and RFC952, with the refill quirk', () => {
  const cases: [string, string, string][] = [
    // input, RFC1123, RFC952
    ['hello' + '-'.repeat(56) + 'f', 'hello' + '-'.repeat(56) + 'f', 'hellof'],
    ['hello' + '-'.repeat(58) + 'f', 'hellof', 'hellof'],
    ['89fdgsf---gs7-fgs--d7fddg-123', '89fdgsf---gs7-fgs--d7fddg-123', 'fdgsf---gs7-fgs--d7fddg1'],
    ['abc' + '-'.repeat(61) + 'x-', 'abcx-', 'abcx-'],
    ['car.store', 'car-store', 'car-store'],
    ['statsd.logs.q', 'statsd-logs-q', 'statsd-logs-q'],
    ['TCP', 'tcp', 'tcp'],
    ['8080', '8080', ''],
    ['$@é', '', ''],
  ];
  for (const [input, rfc1123, rfc952] of cases) {
    assert.equal(labelSpec(input, 'rfc1123'), rfc1123, `rfc1123 ${input}`);
    assert.equal(labelSpec(input, 'rfc952'), rfc952, `rfc952 ${input}`);
  }
  assert.equal(
    labelSpec('fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123'),
    'fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891',
  );
});

test('domain fragments keep dots as label separators', () => {
  assert.equal(
    domainFrag('pod_123$abc.marathon-0.6.0-dev.mesos', 'rfc952'),
    'pod-123abc.marathon-0.dev.mesos',
  );
  assert.equal(domainFrag('pod_123$abc.marathon-0.6.0-dev.mesos'), 'pod-123abc.marathon-0.6.0-dev.mesos');
  assert.equal(domainFrag('(@ host . com'), 'host.com');
  assert.equal(domainFrag('MiXeDcase.CoM'), 'mixedcase.com');
  assert.equal(domainFrag('a..c'), 'a.c');
  assert.equal(domainFrag('.'), '');
  assert.equal(domainFrag('..'), '');
  assert.equal(
    domainFrag('chronos with a space AND MIXED CASE-2.0.1'),
    'chronoswithaspaceandmixedcase-2.0.1',
  );
  assert.equal(domainFrag('chronos with a space AND MIXED CASE-2.0.1', 'rfc952'), 'chronoswithaspaceandmixe');
});

test('task hash: z-base-32 of SHA-1, first 5 characters (upstream vectors)', () => {
  const vectors: [string, string][] = [
    ['test', 'iffe9'],
    ['liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5', '4dfjd'],
    ['liquor-store.b71166c1-562f-11e4-a088-c20493233aa5', 'zasmd'],
    ['car-store.43758382-562f-11e4-a088-c20493233aa5', 'zinaz'],
    ['toy-store.b8db9f73-562f-11e4-a088-c20493233aa5', 'go588'],
    ['some-box.b8db9f73-562f-11e4-a088-c20493233aa5', 'h3dyr'],
    ['chronos.49b91a9a-3dda-11e4-a088-c20493233aa5', 'rx8q6'],
    ['nginx.1bc32344-3dda-11e4-a088-c20493233aa5', '6ud99'],
    ['reviewbot.8c9b3434-615a-11e4-a088-c20493233aa5', '8sq89'],
  ];
  for (const [id, hash] of vectors) assert.equal(taskHash(id), hash, id);
});

test('agent tail: the last field of the agent id, lower-cased', () => {
  assert.equal(agentTail('20160107-001256-134875658-5050-27524-S3'), 's3');
  assert.equal(agentTail('20140803-194712-3041283216-5050-2116-0'), '0');
});

test('labels_test.go base table (specs/mesos-dns.md §6.6)', () => {
  const both: [string, string][] = [
    ['a---', 'a'],
    ['---a---b', 'a---b'],
    ['a.b.c.d.e', 'a-b-c-d-e'],
    ['a.c.d_de.', 'a-c-d-de'],
    ['abc--123', 'abc--123'],
    ['r29f.dev.angrypigs', 'r29f-dev-angrypigs'],
  ];
  for (const [input, want] of both) {
    assert.equal(labelSpec(input, 'rfc1123'), want, `rfc1123 ${input}`);
    assert.equal(labelSpec(input, 'rfc952'), want, `rfc952 ${input}`);
  }
  assert.equal(labelSpec('4abc123', 'rfc952'), 'abc123');
  assert.equal(labelSpec('-4abc123', 'rfc952'), 'abc123');
  assert.equal(labelSpec('-4abc123', 'rfc1123'), '4abc123');
  assert.equal(labelSpec('chronos with a space AND----------MIXED--', 'rfc952'), 'chronoswithaspaceandmixe');
});

test('label properties on random input: charset, no leading hyphen (or digit, RFC952), length limit', () => {
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = 'abcXYZ019-._ $@é/\u00fc';
  for (let i = 0; i < 2000; i++) {
    const input = Array.from({ length: rand(90) }, () => alphabet[rand(alphabet.length)]).join('');
    for (const [spec, max, lead] of [
      ['rfc1123', 63, /^-/],
      ['rfc952', 24, /^[-0-9]/],
    ] as const) {
      const out = labelSpec(input, spec);
      assert.match(out, /^[0-9a-z-]*$/, `${spec} ${JSON.stringify(input)}`);
      assert.ok(!lead.test(out), `${spec} ${JSON.stringify(input)} → ${out}`);
      assert.ok(out.length <= max, `${spec} ${JSON.stringify(input)} → ${out}`);
    }
  }
});
