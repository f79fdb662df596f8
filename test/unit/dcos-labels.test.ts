// dcos-net's label sanitiser against the upstream test vectors (specs/dcos-net.md §1.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dcosDomainFrag, dcosLabel } from '../../src/net/index.js';

const VECTORS: Array<[string, string]> = [
  ['fd%gsf---gs7-f$gs--d7fddg-123', 'fdgsf---gs7-fgs--d7fddg-123'],
  ['-4abc123', '4abc123'],
  ['89fdgsf---gs7-fgs--d7fddg-', '89fdgsf---gs7-fgs--d7fddg'],
  ['0-0', '0-0'],
  [
    'fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123',
    'fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891',
  ],
  // Derived in the spec from the DC/OS docs.
  ['myapp.mygroup', 'myapp-mygroup'],
  ['/mygroup/myapp', 'mygroupmyapp'],
];

for (const [input, want] of VECTORS) {
  test(`dcosLabel(${JSON.stringify(input)}) = ${want}`, () => {
    assert.equal(dcosLabel(input), want);
    assert.ok(dcosLabel(input).length <= 63);
  });
}

test('upper case is lowered, empty results are possible, 63 is the cap', () => {
  assert.equal(dcosLabel('Web_App'), 'web-app');
  assert.equal(dcosLabel('---'), '');
  assert.equal(dcosLabel('a'.repeat(100)), 'a'.repeat(63));
  // Reaching 63 on a separator with input left cuts it and continues with letters only.
  assert.equal(dcosLabel(`${'a'.repeat(62)}-b`), `${'a'.repeat(62)}b`);
  assert.equal(dcosLabel(`${'a'.repeat(61)}-b`), `${'a'.repeat(61)}-b`);
  assert.equal(dcosLabel(`${'a'.repeat(62)}--b`), `${'a'.repeat(62)}b`);
});

test('dcosDomainFrag splits on dots and drops empty pieces', () => {
  assert.equal(dcosDomainFrag('foo.Bar..baz_1'), 'foo.bar.baz-1');
  assert.equal(dcosDomainFrag('/mygroup/myapp'), 'mygroupmyapp');
});

test('VIP names use the dcos-net sanitiser: long labels are cut at 63, not hashed', async () => {
  const { vipFqdn } = await import('../../src/l4lb/index.js');
  const long = `${'a'.repeat(70)}`;
  assert.equal(
    vipFqdn({ label: long, framework: 'Marathon' }),
    `${'a'.repeat(63)}.marathon.l4lb.thisdcos.directory.`,
  );
  assert.equal(
    vipFqdn({ label: '/mygroup/myapp', framework: 'marathon' }),
    'mygroupmyapp.marathon.l4lb.thisdcos.directory.',
  );
  assert.equal(
    vipFqdn({ label: 'web.-front', framework: 'marathon' }),
    'web.front.marathon.l4lb.thisdcos.directory.',
  );
});
