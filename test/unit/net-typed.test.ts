import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  describeIssues,
  InputError,
  isIfName,
  isIpv4,
  isMac,
  parseIfName,
  parseIpAddr,
  parseIpCidr,
  parseIpv4,
  parseIpv4Cidr,
  parseIpv6,
  parseIpv6Cidr,
  parseLabelText,
  parseMac,
  parseOverlayName,
  parsePort,
  quote,
  zIpv4Cidr,
  zMac,
} from '../../src/net/index.js';
import { HOSTILE } from '../helpers/hostile.js';

const refused = (r: unknown, field: string, reason: RegExp): void => {
  assert.ok(r instanceof InputError, `refused: ${String(r)}`);
  assert.equal(r.field, field);
  assert.match(r.reason, reason);
};

/** The same, as something appended to a valid value. */
const SUFFIXES = HOSTILE.filter((h) => h !== '');

test('addresses parse to canonical text and refuse everything else, naming the field', () => {
  assert.equal(parseIpv4('10.0.0.1'), '10.0.0.1');
  assert.equal(parseIpv6('FD01:A:0:0:0:0:0:1'), 'fd01:a::1');
  assert.equal(parseIpAddr('fd01:c::0001'), 'fd01:c::1');
  refused(parseIpv4('fd01::1', 'vtep.ip'), 'vtep.ip', /not an IPv4 address/);
  refused(parseIpv4('010.0.0.1'), 'ip', /not an IPv4/);
  refused(parseIpv6('fd01::1%eth0'), 'ip6', /not an IPv6/);
  refused(parseIpv4(42, 'peer'), 'peer', /not a string/);
  for (const bad of HOSTILE) {
    assert.ok(parseIpAddr(bad) instanceof InputError, quote(bad));
  }
  for (const bad of SUFFIXES)
    assert.ok(parseIpAddr(`10.0.0.1${bad}`) instanceof InputError, quote(`10.0.0.1${bad}`));
});

test('CIDRs keep host bits in canonical text; family and prefix length are checked', () => {
  assert.equal(parseIpv4Cidr('44.128.0.2/20'), '44.128.0.2/20');
  assert.equal(parseIpv6Cidr('FD01:B:0:0:1::/080'), 'fd01:b:0:0:1::/80');
  assert.equal(parseIpCidr('9.0.1.0/24'), '9.0.1.0/24');
  refused(parseIpv4Cidr('44.128.0.2/33', 'vtep.ip'), 'vtep.ip', /too long/);
  refused(parseIpv4Cidr('fd01::/64'), 'cidr', /not an IPv4 CIDR/);
  refused(parseIpv6Cidr('9.0.0.0/8'), 'cidr6', /not an IPv6 CIDR/);
  refused(parseIpCidr('9.0.0.0'), 'cidr', /address\/prefix/);
  for (const bad of SUFFIXES) assert.ok(parseIpCidr(`9.0.0.0/8${bad}`) instanceof InputError, quote(bad));
});

test('MACs: unicast, non-zero, lowercased', () => {
  assert.equal(parseMac('70:B3:D5:80:00:02'), '70:b3:d5:80:00:02');
  refused(parseMac('00:00:00:00:00:00'), 'mac', /zero MAC/);
  refused(parseMac('01:00:5e:00:00:01', 'vtep.mac'), 'vtep.mac', /multicast/);
  refused(parseMac('70:b3:d5:80:00'), 'mac', /not a MAC/);
  for (const bad of SUFFIXES)
    assert.ok(parseMac(`70:b3:d5:80:00:02${bad}`) instanceof InputError, quote(bad));
});

test('interface names follow Linux rules and stay one batch token', () => {
  for (const ok of ['vtep1024', 'm-dcos', 'd-abcdefghijklm', 'eth0', 'veth.1_2-x', 'lo'])
    assert.equal(parseIfName(ok), ok);
  refused(parseIfName('abcdefghijklmnop', 'dev'), 'dev', /1 to 15/);
  for (const bad of [...HOSTILE, 'a/b', 'a:b', 'a#b', "a'b", 'a\\b']) {
    assert.ok(parseIfName(bad) instanceof InputError, quote(bad));
    assert.equal(isIfName(bad), false);
  }
});

test('ports are integers 1–65535', () => {
  assert.equal(parsePort(80), 80);
  for (const bad of [0, 65536, 1.5, -1, '80', NaN, Infinity]) assert.ok(parsePort(bad) instanceof InputError);
});

test('overlay names: DC/OS rules (≤ 13, not reserved) and a charset that keeps paths inside', () => {
  assert.equal(parseOverlayName('dcos'), 'dcos');
  assert.equal(parseOverlayName('abcdefghijklm'), 'abcdefghijklm');
  refused(parseOverlayName('abcdefghijklmn'), 'name', /too long/);
  refused(parseOverlayName('host'), 'name', /reserved/);
  refused(parseOverlayName(''), 'name', /empty/);
  for (const bad of [...HOSTILE.filter((h) => h.length <= 13), '../x', 'a/b', '.hidden', '-x'])
    assert.ok(parseOverlayName(bad) instanceof InputError, quote(bad));
});

test('label text: printable, bounded, no control or line-breaking characters', () => {
  assert.equal(parseLabelText('/my app:80'), '/my app:80');
  assert.equal(parseLabelText('ünïcödé'), 'ünïcödé');
  for (const bad of ['', 'a\nb', 'a\0b', 'a\u2028b', 'a\u202eb', 'x'.repeat(256)])
    assert.ok(parseLabelText(bad) instanceof InputError, quote(bad));
});

test('guards accept only what the parser would return unchanged', () => {
  assert.equal(isIpv4('10.0.0.1'), true);
  assert.equal(isIpv4('10.0.0.1\n'), false);
  assert.equal(isMac('70:b3:d5:80:00:02'), true);
  assert.equal(isMac('70:B3:D5:80:00:02'), false, 'not canonical');
});

test('zod schemas brand the value and name the field in the path', () => {
  const schema = z.object({ vtep: z.object({ ip: zIpv4Cidr, mac: zMac }) });
  const ok = schema.parse({ vtep: { ip: '44.128.0.2/20', mac: '70:B3:D5:80:00:02' } });
  assert.equal(ok.vtep.mac, '70:b3:d5:80:00:02');
  const bad = schema.safeParse({ vtep: { ip: '44.128.0.2/20', mac: '70:b3:d5:80:00:02\nlink add x' } });
  assert.equal(bad.success, false);
  const [issue] = describeIssues(bad.error!);
  assert.equal(issue!.field, 'vtep.mac');
  assert.match(issue!.problem, /\\n/, 'the newline is shown escaped');
});
