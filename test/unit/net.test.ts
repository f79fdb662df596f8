import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cidrContains,
  cidrsOverlap,
  formatAddress,
  formatCidr,
  halves,
  nthSubnet,
  parseAddress,
  parseCidr,
  parseOui,
  vtepMac,
  lastOf,
  networkOf,
} from '../../src/net/index.js';

const cidr = (t: string) => {
  const c = parseCidr(t);
  assert.ok(c, `${t} parses`);
  return c;
};

test('IPv6 text is glibc/RFC 5952 form: first longest zero run compressed, single zero group kept', () => {
  const cases: [string, string][] = [
    ['fd01:b:0:0:1:0:0:0', 'fd01:b:0:0:1::'],
    ['fd01:b:0:0:1:8000:0:0', 'fd01:b::1:8000:0:0'],
    ['fd02:0:0:0:0:8000:0:0', 'fd02::8000:0:0'],
    ['fd01:a:0:0:0:0:0:1', 'fd01:a::1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['FD01:00B::', 'fd01:b::'],
  ];
  for (const [input, want] of cases) {
    const a = parseAddress(input);
    assert.ok(a && a.family === 6, input);
    assert.equal(formatAddress(6, a.value), want, input);
  }
});

test('IPv4 parsing accepts only dotted quads', () => {
  assert.equal(parseAddress('10.1')?.family, undefined);
  assert.equal(parseAddress('010.0.0.1'), undefined);
  assert.equal(parseAddress('1.2.3.256'), undefined);
  assert.equal(formatAddress(4, parseAddress('172.17.0.4')!.value), '172.17.0.4');
  assert.equal(parseAddress('fe80::1%eth0'), undefined);
});

test('CIDR parsing keeps host bits; network and last address mask them', () => {
  const c = cidr('9.1.2.3/8');
  assert.equal(formatCidr(c), '9.1.2.3/8');
  assert.equal(formatAddress(4, networkOf(c)), '9.0.0.0');
  assert.equal(formatAddress(4, lastOf(c)), '9.255.255.255');
  assert.equal(parseCidr('9.0.0.0/33'), undefined);
  assert.equal(parseCidr('9.0.0.0'), undefined);
  assert.equal(parseCidr('9.0.0.0/'), undefined);
  assert.equal(parseCidr('fd01::/129'), undefined);
});

test('slices and halves use exact 128-bit arithmetic beyond 255 agents', () => {
  const pool = cidr('fd01:b::/64');
  assert.equal(formatCidr(nthSubnet(pool, 80, 1n)), 'fd01:b:0:0:1::/80');
  assert.equal(formatCidr(nthSubnet(pool, 80, 256n)), 'fd01:b:0:0:100::/80');
  assert.equal(formatCidr(nthSubnet(pool, 80, 65535n)), 'fd01:b:0:0:ffff::/80');
  const [m, d] = halves(cidr('fd01:b:0:0:1::/80'));
  assert.equal(formatCidr(m), 'fd01:b:0:0:1::/81');
  assert.equal(formatCidr(d), 'fd01:b::1:8000:0:0/81');
  const [m4, d4] = halves(cidr('9.0.1.0/24'));
  assert.deepEqual([formatCidr(m4), formatCidr(d4)], ['9.0.1.0/25', '9.0.1.128/25']);
  assert.equal(formatCidr(nthSubnet(cidr('9.0.0.0/8'), 24, 65535n)), '9.255.255.0/24');
});

test('overlap and containment', () => {
  assert.ok(cidrsOverlap(cidr('9.0.0.0/8'), cidr('9.200.0.0/16')));
  assert.ok(!cidrsOverlap(cidr('9.0.0.0/8'), cidr('10.0.0.0/8')));
  assert.ok(!cidrsOverlap(cidr('9.0.0.0/8'), cidr('fd01::/64')));
  assert.ok(cidrContains(cidr('9.0.0.0/8'), cidr('9.0.1.0/24')));
  assert.ok(!cidrContains(cidr('9.0.1.0/24'), cidr('9.0.0.0/8')));
});

test('VTEP MAC is the OUI followed by the low 24 bits of the VTEP IPv4', () => {
  const oui = parseOui('70:B3:D5:00:00:00');
  if (typeof oui === 'string') assert.fail(oui);
  assert.equal(vtepMac(oui, parseAddress('44.128.0.2')!.value), '70:b3:d5:80:00:02');
  assert.equal(vtepMac(oui, parseAddress('44.129.10.255')!.value), '70:b3:d5:81:0a:ff');
  assert.match(parseOui('70:B3:D5:00:00:01') as string, /least significant three bytes/);
  assert.match(parseOui('70:B3:D5:00:00') as string, /six/);
  assert.match(parseOui('70:B3:ZZ:00:00:00') as string, /not a hex byte/);
});
