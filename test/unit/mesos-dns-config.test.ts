// Mesos-DNS config.json (specs/mesos-dns.md §5): defaults, case-insensitive keys, the upstream
// validation tables (records/validation_test.go, records/config_test.go) and our changed defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CONFIG_KEYS,
  ConfigError,
  loadMesosDnsConfig,
  parseMesosDnsConfig,
  renderConfig,
  resolvConfNameservers,
  validateMasters,
  validateResolvers,
  validateZones,
} from '../../src/dns/mesos/index.js';
import { tempDir } from '../helpers/tmp.js';

const ctx = { file: '/etc/mesos-dns/config.json', resolvConfNameservers: ['192.0.2.53'] };
const parse = (doc: unknown) => parseMesosDnsConfig(doc, ctx);
const problems = (doc: unknown): string[] => {
  try {
    parse(doc);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
};

test('defaults (§5.1), with resolvers from resolv.conf instead of a public resolver', () => {
  const { config: c, ignoredKeys } = parse({ masters: ['192.0.2.1:5050'] });
  assert.deepEqual(ignoredKeys, []);
  assert.equal(c.RefreshSeconds, 60);
  assert.equal(c.Port, 53);
  assert.equal(c.Timeout, 5);
  assert.equal(c.StateTimeoutSeconds, 300);
  assert.equal(c.ZkDetectionTimeout, 30);
  assert.equal(c.HttpPort, 8123);
  assert.equal(c.TTL, 60);
  assert.equal(c.SRVRecordDefaultWeight, 1);
  assert.deepEqual([c.SOARefresh, c.SOARetry, c.SOAExpire, c.SOAMinttl], [60, 600, 86400, 60]);
  assert.equal(c.SOAMname, 'ns1.mesos.');
  assert.equal(c.SOARname, 'root.ns1.mesos.');
  assert.deepEqual(c.Resolvers, ['192.0.2.53']);
  assert.deepEqual(c.IPSources, ['netinfo', 'mesos', 'host']);
  assert.deepEqual(c.ZoneResolvers, {});
  assert.equal(c.Domain, 'mesos');
  assert.equal(c.Listener, '0.0.0.0');
  assert.equal(c.HTTPListener, '0.0.0.0');
  assert.deepEqual(
    [
      c.RecurseOn,
      c.DnsOn,
      c.HttpOn,
      c.ExternalOn,
      c.EnforceRFC952,
      c.SetTruncateBit,
      c.EnumerationOn,
      c.MesosHTTPSOn,
    ],
    [true, true, true, true, false, true, true, false],
  );
  assert.equal(c.MesosAuthentication, '');
  assert.equal(c.File, '/etc/mesos-dns/config.json');
  // An explicit empty list also means "from resolv.conf" (upstream); explicit servers are kept.
  assert.deepEqual(parse({ masters: ['192.0.2.1:5050'], resolvers: [] }).config.Resolvers, ['192.0.2.53']);
  assert.deepEqual(parse({ masters: ['192.0.2.1:5050'], resolvers: ['198.51.100.1'] }).config.Resolvers, [
    '198.51.100.1',
  ]);
});

test('config_test.go: no masters and no zk is rejected; zk alone names the missing masters', () => {
  assert.match(problems({}).join('\n'), /^masters: at least one master/m);
  assert.match(
    problems({ zk: 'zk://192.0.2.1:2181/mesos' }).join('\n'),
    /masters: required: dcnet has no ZooKeeper/,
  );
  // zk plus masters: accepted (the leader is followed from the masters' state).
  assert.deepEqual(problems({ zk: 'zk://192.0.2.1:2181/mesos', masters: ['192.0.2.1:5050'] }), []);
});

test('keys are matched case-insensitively, the last spelling wins, unknown keys are reported', () => {
  for (const key of ['refreshSeconds', 'RefreshSeconds', 'refreshseconds', 'REFRESHSECONDS'])
    assert.equal(parse({ masters: ['192.0.2.1:5050'], [key]: 7 }).config.RefreshSeconds, 7, key);
  const { config, ignoredKeys } = parse({
    MASTERS: ['192.0.2.1:5050'],
    ttl: 5,
    TTL: 9,
    ns: 'ns1',
    email: 'x',
    ipsources: ['host'],
    soamname: 'NS2.Mesos...',
    soarname: 'admin@ns2.mesos.',
    mesoscredentials: { PRINCIPAL: 'p', secret: 's' },
  });
  assert.equal(config.TTL, 9);
  assert.deepEqual(config.IPSources, ['host']);
  assert.equal(config.SOAMname, 'ns2.mesos.');
  assert.equal(config.SOARname, 'admin.ns2.mesos.');
  assert.deepEqual(config.MesosCredentials, { Principal: 'p', Secret: 's' });
  assert.deepEqual(ignoredKeys, ['ns', 'email']);
});

test('the shipped config.json.sample (§5.3) loads unchanged (public resolver swapped for a test one)', () => {
  const sample = {
    zk: 'zk://127.0.0.1:2181/mesos',
    masters: ['127.0.0.1:5050'],
    stateTimeoutSeconds: 300,
    refreshSeconds: 60,
    ttl: 60,
    domain: 'mesos',
    ns: 'ns1',
    port: 8053,
    resolvers: ['192.0.2.53'],
    timeout: 5,
    listener: '0.0.0.0',
    SOAMname: 'ns1.mesos',
    SOARname: 'root.ns1.mesos',
    SOARefresh: 60,
    SOARetry: 600,
    SOAExpire: 86400,
    SOAMinttl: 60,
    dnson: true,
    httpon: true,
    httpport: 8123,
    externalon: true,
    recurseon: true,
    srvRecordDefaultWeight: 1,
    IPSources: ['mesos', 'host'],
    EnforceRFC952: false,
    EnumerationOn: true,
  };
  const { config } = parse(sample);
  assert.equal(config.Port, 8053);
  assert.deepEqual(config.IPSources, ['mesos', 'host']);
  assert.deepEqual(config.Masters, ['127.0.0.1:5050']);
});

test('validation_test.go: domains', () => {
  const ok = (domain: string) => problems({ masters: ['192.0.2.1:5050'], domain }).length === 0;
  assert.equal(ok(''), false);
  assert.equal(ok('1-awesome.domain.e'), true);
  assert.equal(ok('.invalid.com'), false);
  assert.equal(ok('invalid.com.'), false);
  assert.equal(ok('single-name'), true);
  assert.equal(ok('name'), true);
  assert.match(
    problems({ masters: ['192.0.2.1:5050'], Domain: 'a..b' })[0]!,
    /^Domain: "a\.\.b" is not a domain name/,
  );
});

test('validation_test.go: masters (host names allowed, IPv6 duplicates in two spellings rejected)', () => {
  const ok = (m: string[]) => validateMasters(m).length === 0;
  assert.equal(ok(['']), false);
  assert.equal(ok(['a']), false);
  assert.equal(ok(['a:1234']), true);
  assert.equal(ok(['a:0']), false);
  assert.equal(ok(['a:65535']), true);
  assert.equal(ok(['a:65536']), false);
  assert.equal(ok(['1.2.3.4']), false);
  assert.equal(ok(['1.2.3.4.5:6']), true);
  assert.equal(ok(['1.2.3.4:5', '1.2.3.4:5']), false);
  assert.equal(ok(['[2001:db8:0:0:0:0:0:1a2b]:1', '[2001:db8::1a2b]:1']), false);
  assert.equal(ok(['[2001:db8::1a2b]:1', '[2001:db8::1a2b]:2']), true);
  assert.deepEqual(validateMasters(['192.0.2.1:5050', 'x'], 'masters'), ['masters[1]: "x" is not host:port']);
});

test('validation_test.go: resolvers', () => {
  const ok = (r: string[]) => validateResolvers(r).length === 0;
  assert.equal(ok(['a']), false);
  assert.equal(ok(['1.2.3.4']), true);
  assert.equal(ok(['1.2.3.4:53']), true);
  assert.equal(ok(['5.6.7.8:-1']), false);
  assert.equal(ok(['5.6.7.8:abc']), false);
  assert.equal(ok(['2001:db8::1']), true);
  assert.equal(ok(['2001:db8::1', '[2001:db8::1]:55']), true);
  assert.equal(ok(['2001:db8::1', '2001:db8:0::1']), false);
  assert.equal(ok(['1.2.3.4', '1.2.3.4:53']), false, 'same server, port 53 implied');
  // Resolvers are only checked when forwarding is on.
  assert.deepEqual(problems({ masters: ['192.0.2.1:5050'], externalOn: false, resolvers: ['nope'] }), []);
  assert.match(problems({ masters: ['192.0.2.1:5050'], resolvers: ['nope'] })[0]!, /^resolvers\[0\]: "nope"/);
});

test('validation_test.go: zone resolvers (no zone inside another or the Mesos domain)', () => {
  const ok = (zones: Record<string, string[]>, domain = 'mesos') => validateZones(zones, domain).length === 0;
  assert.equal(ok({ 'abc.com': ['1.2.3.4'], 'bc.com': ['1.2.3.4'] }), true);
  assert.equal(ok({ '.abc.com': ['1.2.3.4'], '.com': ['1.2.3.4'] }), false);
  assert.equal(ok({ 'abc.com': ['1.2.3.4'], com: ['1.2.3.4'] }), false);
  assert.equal(ok({ 'abc.com': [] }), false);
  assert.equal(ok({ 'abc.com': ['nope'] }), false);
  for (const zone of ['mesos', 'dc.mesos', 'site.dc.mesos'])
    assert.equal(ok({ [zone]: ['1.2.3.4'] }, 'dc.mesos'), false, zone);
  for (const zone of ['acdc.mesos', 'weave'])
    assert.equal(ok({ [zone]: ['1.2.3.4'] }, 'dc.mesos'), true, zone);
});

test('other rules name the field: IPSources, timeouts, listeners, auth, types', () => {
  const base = { masters: ['192.0.2.1:5050'] };
  const p = (extra: Record<string, unknown>) => problems({ ...base, ...extra }).join('\n');
  assert.match(p({ IPSources: [] }), /IPSources: must not be empty/);
  assert.match(p({ IPSources: ['host', 'host'] }), /IPSources\[1\]: "host" is listed twice/);
  assert.match(p({ ipSources: ['dns'] }), /ipSources\[0\]: "dns" is not one of/);
  assert.match(p({ stateTimeoutSeconds: 0 }), /stateTimeoutSeconds: must be > 0/);
  assert.match(p({ refreshSeconds: 0 }), /refreshSeconds: must be a positive number/);
  assert.match(p({ listener: 'dns.example' }), /listener: "dns.example" is not an IP address/);
  assert.match(p({ HTTPListener: 'localhost' }), /HTTPListener: "localhost" is not an IP address/);
  assert.match(p({ dnsOn: false, httpOn: false }), /dnsOn\/httpOn: at least one must be true/);
  assert.match(p({ CertFile: '/x.pem' }), /CertFile\/keyFile: give both or neither/);
  assert.match(p({ mesosAuthentication: 'basic' }), /mesosCredentials: "basic" authentication needs/);
  assert.match(p({ mesosAuthentication: 'iam' }), /IAMConfigFile: "iam" authentication needs/);
  assert.match(p({ mesosAuthentication: 'kerberos' }), /mesosAuthentication: must be "", "basic" or "iam"/);
  assert.match(p({ port: '53' }), /port: Invalid input: expected number/);
  assert.match(p({ httpPort: 70000 }), /httpPort: must be a port number 0-65535/);
  assert.match(p({ ttl: 1.5 }), /ttl: /);
  assert.match(p({ masters: 'x' }), /masters: /);
  assert.equal(parse({ ...base, timeout: 0 }).config.Timeout, 5, 'timeout 0 means 5');
  assert.deepEqual(parse({ ...base, port: null }).config.Port, 53, 'null keeps the default');
  // Every problem is reported at once.
  assert.equal(problems({ refreshSeconds: 0, domain: '' }).length, 3);
  assert.throws(() => parse([]), /must be a JSON object/);
});

test("resolv.conf nameservers minus the node's own addresses, canonical, no duplicates", () => {
  const text = [
    '# comment',
    'search example',
    'nameserver 192.0.2.53',
    'nameserver 127.0.0.1',
    'nameserver 2001:db8:0::35',
    'nameserver 192.0.2.53',
    'nameserver 198.51.100.7',
    'nameserver not-an-ip',
    'options ndots:5',
  ].join('\n');
  assert.deepEqual(resolvConfNameservers(text, ['127.0.0.1', '198.51.100.7', '::1']), [
    '192.0.2.53',
    '2001:db8::35',
  ]);
});

test('loadMesosDnsConfig: a file, errors naming the file, resolvers from the given resolv.conf', async () => {
  const dir = await tempDir('mdns-config');
  const file = join(dir, 'config.json');
  const resolv = join(dir, 'resolv.conf');
  await writeFile(resolv, 'nameserver 203.0.113.9\nnameserver 198.51.100.1\n');
  await writeFile(file, JSON.stringify({ masters: ['192.0.2.1:5050'], httpPort: 0 }));
  const { config } = await loadMesosDnsConfig(file, {
    resolvConf: resolv,
    localAddresses: () => ['198.51.100.1'],
  });
  assert.deepEqual(config.Resolvers, ['203.0.113.9']);
  assert.equal(config.File, file);
  await writeFile(file, '{"masters": [');
  await assert.rejects(
    loadMesosDnsConfig(file),
    (e: unknown) => e instanceof ConfigError && /not valid JSON/.test(e.message),
  );
  await assert.rejects(loadMesosDnsConfig(join(dir, 'missing.json')), /cannot read the config file/);
});

test('/v1/config: §5.1 order, Go names, live serial, Masters null when unset, no secret', () => {
  const { config } = parse({
    masters: ['192.0.2.1:5050'],
    mesosAuthentication: 'basic',
    mesosCredentials: { principal: 'dcos', secret: 'hunter2' },
  });
  const out = renderConfig(config, 1700000000);
  assert.deepEqual(Object.keys(out), CONFIG_KEYS);
  assert.equal(Object.keys(out)[0], 'RefreshSeconds');
  assert.equal(Object.keys(out).at(-1), 'MesosAuthentication');
  assert.equal(out.SOASerial, 1700000000);
  assert.deepEqual(out.MesosCredentials, { Principal: 'dcos', Secret: '<redacted>' });
  assert.ok(!JSON.stringify(out).includes('hunter2'));
  const noMasters = parseMesosDnsConfig({ masters: ['192.0.2.1:5050'] }, ctx, false).config;
  assert.equal(renderConfig({ ...noMasters, Masters: null }, 0).Masters, null);
});
