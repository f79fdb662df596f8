// Marathon app definitions in the emulator: Marathon's defaults, and 422 errors naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppValidationError, parseApp } from '../../src/sim/index.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const example = (name: string): unknown =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'apps', `${name}.json`), 'utf8'));
const NETS = ['dcos', 'dcos6'];

function details(input: unknown): Record<string, string> {
  try {
    parseApp(input, NETS);
  } catch (err) {
    assert.ok(err instanceof AppValidationError, String(err));
    assert.equal(err.body().message, 'Object is not valid');
    return Object.fromEntries(err.details.map((d) => [d.path, d.errors.join('; ')]));
  }
  assert.fail('app was accepted');
}

test('the example apps: overlay, bridge and host networking with their ports and VIP labels', () => {
  const web = parseApp(example('web'), NETS);
  assert.equal(web.id, '/web');
  assert.equal(web.instances, 3);
  assert.equal(web.mode, 'container');
  assert.deepEqual(web.ports, [
    {
      containerPort: 80,
      hostPort: undefined,
      servicePort: 0,
      name: 'http',
      protocol: 'tcp',
      labels: { VIP_0: '/web:80' },
    },
  ]);
  assert.equal(web.labels.HAPROXY_0_VHOST, 'web.example.test');
  assert.equal(web.healthChecks[0]!.intervalSeconds, 2);
  const legacy = parseApp(example('legacy'), NETS);
  assert.equal(legacy.mode, 'container/bridge');
  assert.equal(legacy.ports[0]!.hostPort, 0, 'bridge: dynamic host port');
  const hostsvc = parseApp(example('hostsvc'), NETS);
  assert.equal(hostsvc.mode, 'host');
  assert.deepEqual(hostsvc.ports[0], {
    containerPort: 0,
    hostPort: 0,
    servicePort: 0,
    name: 'svc',
    protocol: 'tcp',
    labels: { VIP_0: 'hostsvc:9000' },
  });
});

test("Marathon's defaults: host networking, one default port, 1 instance", () => {
  const app = parseApp({ id: 'group/app' }, NETS);
  assert.equal(app.id, '/group/app');
  assert.equal(app.mode, 'host');
  assert.equal(app.instances, 1);
  assert.deepEqual(app.ports, [
    { containerPort: 0, hostPort: 0, servicePort: 0, name: 'default', protocol: 'tcp', labels: {} },
  ]);
  const bridge = parseApp({ id: 'b', networks: [{ mode: 'container/bridge' }] }, NETS);
  assert.equal(bridge.ports[0]!.hostPort, 0);
  const noPorts = parseApp({ id: 'n', portDefinitions: [] }, NETS);
  assert.deepEqual(noPorts.ports, []);
});

test('422 details name each bad field', () => {
  assert.match(details({ id: 'Bad_Id' })['/id']!, /lowercase letters/);
  assert.match(details({ id: 'a', instances: -1 })['/instances']!, />=0/);
  assert.match(details({ id: 'a', instances: 'two' })['/instances']!, /expected number/);
  assert.deepEqual(details({ id: 'a', networks: [{ mode: 'container' }] }), {
    '/networks/0/name': 'is required for container networks',
  });
  assert.deepEqual(details({ id: 'a', networks: [{ mode: 'container', name: 'nope' }] }), {
    '/networks/0/name': 'unknown network "nope" (known: dcos, dcos6)',
  });
  assert.match(
    details({ id: 'a', networks: [{ mode: 'host' }, { mode: 'container', name: 'dcos' }] })['/networks']!,
    /cannot be mixed/,
  );
  assert.match(
    details({ id: 'a', networks: [{ mode: 'container', name: 'dcos' }], portDefinitions: [{ port: 80 }] })[
      '/portDefinitions'
    ]!,
    /only allowed with host networking/,
  );
  assert.match(
    details({ id: 'a', container: { portMappings: [{ containerPort: 80 }] } })['/container/portMappings']!,
    /only allowed with container/,
  );
  assert.match(
    details({
      id: 'a',
      networks: [{ mode: 'container', name: 'dcos' }],
      container: { portMappings: [{ containerPort: 0 }] },
    })['/container/portMappings/0/containerPort']!,
    /must be set when there is no hostPort/,
  );
  assert.match(
    details({ id: 'a', portDefinitions: [{ port: 1 }], healthChecks: [{ portIndex: 3 }] })[
      '/healthChecks/0/portIndex'
    ]!,
    /has 1 ports/,
  );
  assert.match(details({ id: 'a', container: { type: 'DOCKER' } })['/container/docker/image']!, /required/);
  assert.match(details({ id: 'a', portDefinitions: [{ port: 70000 }] })['/portDefinitions/0/port']!, /65535/);
});
