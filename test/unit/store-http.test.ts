// The Store served over HTTP (agents reach the master's store this way): the shared contract,
// then what only a remote watch must do: resume after the server goes away, report compaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  EmbeddedStore,
  HttpStore,
  registerStoreRoutes,
  type Store,
  type WatchEvent,
} from '../../src/store/index.js';
import { storeContract } from '../helpers/store-contract.js';

async function serve(
  backing: Store,
  port = 0,
  heartbeatMs = 200,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ forceCloseConnections: true });
  registerStoreRoutes(app, backing, { heartbeatMs });
  const url = await app.listen({ host: '127.0.0.1', port });
  return { app, url };
}

storeContract('http', async () => {
  const backing = await EmbeddedStore.open({ leaseCheckMs: 50 });
  const { app, url } = await serve(backing);
  const client = new HttpStore(url);
  const close = client.close.bind(client);
  client.close = async () => {
    await close();
    await app.close();
    await backing.close();
  };
  return client;
});

const until = async (pred: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('http: a watch survives the server going away and resumes without losing events', async (t) => {
  const backing = await EmbeddedStore.open();
  let server = await serve(backing);
  const port = Number(new URL(server.url).port);
  const client = new HttpStore(server.url, { retryMinMs: 20, retryMaxMs: 100 });
  t.after(async () => {
    await client.close();
    await server.app.close();
    await backing.close();
  });
  const seen: string[] = [];
  const connections: boolean[] = [];
  const w = client.watch({
    prefix: 'n/',
    onEvents: (evs: readonly WatchEvent[]) => seen.push(...evs.map((e) => `${e.type} ${e.kv.key}`)),
    onConnection: (up) => connections.push(up),
  });
  await until(() => connections.includes(true));
  await backing.put('n/1', 'a');
  await until(() => seen.length === 1);
  await server.app.close();
  await until(() => connections.includes(false));
  // Changes while the server is down are delivered after it comes back.
  await backing.put('n/2', 'b');
  await backing.delete('n/1');
  server = await serve(backing, port);
  await until(() => seen.length === 3);
  assert.deepEqual(seen, ['put n/1', 'put n/2', 'delete n/1']);
  assert.deepEqual(connections, [true, false, true]);
  w.close();
});

test('http: a watch that cannot resume (compacted history) reports it', async () => {
  const backing = await EmbeddedStore.open({ historyLimit: 2 });
  const server = await serve(backing);
  const client = new HttpStore(server.url);
  for (let i = 0; i < 5; i++) await backing.put('c', String(i));
  const err = await new Promise<Error & { code?: string }>((resolve) =>
    client.watch({ prefix: 'c', fromRevision: 1, onEvents: () => {}, onError: resolve }),
  );
  assert.equal(err.code, 'compacted');
  await client.close();
  await server.app.close();
  await backing.close();
});

test('http: calls to an unreachable store fail with `unavailable`; bad requests name the field', async () => {
  const client = new HttpStore('http://127.0.0.1:9', { timeoutMs: 1000 });
  await assert.rejects(client.get('x'), (e: unknown) => (e as { code?: string }).code === 'unavailable');
  const backing = await EmbeddedStore.open();
  const server = await serve(backing);
  const res = await fetch(`${server.url}/store/v1/txn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ success: [{ type: 'put', key: 'k' }] }),
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: string }).error, /success\.0\.value/);
  await server.app.close();
  await backing.close();
});

test('http: with several masters, calls and watches move on from one that does not answer', async (t) => {
  const backing = await EmbeddedStore.open();
  const server = await serve(backing);
  const client = new HttpStore(['http://127.0.0.1:9', server.url], {
    retryMinMs: 10,
    retryMaxMs: 50,
    timeoutMs: 1000,
  });
  t.after(async () => {
    await client.close();
    await server.app.close();
    await backing.close();
  });
  await assert.rejects(client.put('a', '1'), (e: unknown) => (e as { code?: string }).code === 'unavailable');
  const rev = await client.put('a', '1');
  assert.ok(rev > 0, 'the next call goes to the next master');
  const seen: string[] = [];
  const w = client.watch({
    prefix: 'w/',
    fromRevision: rev + 1,
    onEvents: (evs) => seen.push(...evs.map((e) => e.kv.key)),
  });
  await backing.put('w/1', 'x');
  await until(() => seen.length === 1);
  w.close();
});

test('http: two independent stores behind one URL list: the client keeps the first and refuses the second', async (t) => {
  const a = await EmbeddedStore.open();
  const b = await EmbeddedStore.open();
  const sa = await serve(a);
  const sb = await serve(b);
  const refused: string[] = [];
  const client = new HttpStore([sa.url, sb.url], {
    retryMinMs: 10,
    retryMaxMs: 50,
    onForeignCluster: (e) => refused.push(e.message),
  });
  t.after(async () => {
    await client.close();
    await sa.app.close();
    await sb.app.close();
    await a.close();
    await b.close();
  });
  await b.put('w/from-b', 'must never be seen');
  const rev = await client.put('w/a', '1');
  assert.equal(client.clusterId, a.identity.clusterId);
  // The first store goes away: the client tries the second, which is another cluster.
  await sa.app.close();
  await assert.rejects(client.put('x', '1'), (e: unknown) => (e as { code?: string }).code === 'unavailable');
  const err = await client.put('x', '1').then(
    () => assert.fail('the second store must be refused'),
    (e: unknown) => e as { code: string; message: string },
  );
  assert.equal(err.code, 'foreign-cluster');
  assert.ok(err.message.includes(b.identity.clusterId), err.message);
  assert.ok(err.message.includes(a.identity.clusterId), err.message);
  assert.ok(err.message.includes(sb.url), err.message);
  assert.equal((await b.get('x')) ?? undefined, undefined, 'nothing was written to the foreign store');
  // A watch started now reaches only the foreign store: it delivers nothing from it.
  const seen: string[] = [];
  const w = client.watch({
    prefix: 'w/',
    fromRevision: 1,
    onEvents: (evs) => seen.push(...evs.map((e) => e.kv.key)),
  });
  await until(() => refused.length >= 3);
  w.close();
  assert.deepEqual(seen, []);
  assert.ok(rev > 0);
});

test('http: the store names itself in headers, on the watch start line and at /status', async (t) => {
  const backing = await EmbeddedStore.open();
  const server = await serve(backing);
  t.after(async () => {
    await server.app.close();
    await backing.close();
  });
  const status = await fetch(`${server.url}/store/v1/status`);
  assert.equal(status.headers.get('x-dcnet-cluster-id'), backing.identity.clusterId);
  assert.deepEqual(await status.json(), backing.identity);
  const ac = new AbortController();
  const res = await fetch(`${server.url}/store/v1/watch?prefix=a`, { signal: ac.signal });
  assert.equal(res.headers.get('x-dcnet-member-id'), backing.identity.memberId);
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  assert.deepEqual(JSON.parse(text.slice(0, text.indexOf('\n'))), {
    start: backing.revision + 1,
    ...backing.identity,
  });
});
