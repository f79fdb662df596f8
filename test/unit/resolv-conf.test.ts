import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fallbackNameservers,
  NODE_DNS_IPS,
  parseResolvConf,
  renderResolvConf,
  RESOLV_CONF_MARK,
} from '../../src/dns/dcos/index.js';

const ORIGINAL = [
  '# from DHCP',
  'search corp.example  example',
  'options ndots:2 timeout:1',
  'nameserver 192.0.2.53',
  'nameserver   203.0.113.7 ',
  'nameserver 192.0.2.53',
  'nameserver not-an-ip',
  'nameserver fe80::1%eth0',
  'domain corp.example',
  'sortlist 192.0.2.0/255.255.255.0',
  'options \x1b[31mred',
  '',
].join('\n');

test('parse keeps valid nameservers once, in order, and the search/options lines verbatim', () => {
  const p = parseResolvConf(ORIGINAL);
  assert.deepEqual(p.nameservers, ['192.0.2.53', '203.0.113.7', 'fe80::1']);
  assert.deepEqual(p.kept, [
    'search corp.example  example',
    'options ndots:2 timeout:1',
    'domain corp.example',
    'sortlist 192.0.2.0/255.255.255.0',
  ]);
  assert.equal(p.generated, false);
});

test('the local file lists the three node DNS addresses and keeps search/options', () => {
  const kept = parseResolvConf(ORIGINAL).kept;
  const text = renderResolvConf({ mode: 'local', nameservers: NODE_DNS_IPS, kept, original: '/x.orig' });
  assert.ok(text.startsWith(RESOLV_CONF_MARK));
  const back = parseResolvConf(text);
  assert.deepEqual(back.nameservers, ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  assert.deepEqual(back.kept, kept);
  assert.equal(back.generated, true);
  assert.match(text, /\/x\.orig/);
});

test('at most three nameservers; none is refused rather than written', () => {
  const text = renderResolvConf({
    mode: 'upstream',
    nameservers: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'],
    kept: [],
    original: '/o',
  });
  assert.deepEqual(parseResolvConf(text).nameservers, ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  assert.match(text, /did not answer ready\.spartan/);
  assert.throws(
    () => renderResolvConf({ mode: 'upstream', nameservers: [], kept: ['search a'], original: '/o' }),
    /no nameserver/,
  );
});

test('fallback upstreams never include the node DNS addresses or the node itself', () => {
  const own = new Set(['192.0.2.10']);
  assert.deepEqual(
    fallbackNameservers(undefined, ['198.51.100.1', '198.51.100.2', '192.0.2.10', '192.0.2.53'], own),
    ['192.0.2.53'],
  );
  assert.deepEqual(fallbackNameservers(['198.51.100.3', '203.0.113.1'], ['192.0.2.53'], own), [
    '203.0.113.1',
  ]);
  assert.deepEqual(fallbackNameservers(undefined, ['198.51.100.1'], own), []);
});
