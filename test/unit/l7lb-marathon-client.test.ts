// Marathon as the controller reads it, against a local stand-in on 127.0.0.1: the failover list
// (the URL that answered moves first) and the event stream (relevant events only, several per
// data payload, a resync on every (re)connect).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { EventStream, MarathonClient } from '../../src/l7lb/index.js';
import { eventually } from '../helpers/eventually.js';

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

test('the failover list moves on from a dead Marathon and sticks to the one that answered', async () => {
  const good = await serve((req, res) => {
    assert.match(req.url ?? '', /^\/v2\/apps\?embed=apps\.tasks&embed=apps\.readiness$/);
    res.setHeader('content-type', 'application/json');
    res.end('{"apps":[]}');
  });
  const client = new MarathonClient(['http://127.0.0.1:1', good], 2000);
  assert.deepEqual(await client.apps(), { apps: [] });
  assert.equal(client.current, good);
  await assert.rejects(
    new MarathonClient(['http://127.0.0.1:1'], 1000).apps(),
    /Marathon unreachable: http:\/\/127\.0\.0\.1:1/,
  );
});

test('event stream: relevant events (several per payload) trigger; every connect resyncs', async () => {
  let connections = 0;
  const url = await serve((req, res) => {
    connections++;
    assert.match(req.url ?? '', /event_type=status_update_event/);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: event_stream_attached\ndata: {"eventType":"event_stream_attached"}\n\n');
    res.write(
      'event: status_update_event\ndata: {"eventType":"status_update_event"}\r\n{"eventType":"api_post_event"}\n\n',
    );
    res.write('event: framework_message_event\ndata: {"eventType":"framework_message_event"}\n\n');
    res.write('data: not json\n\n');
    // The first connection ends: the stream must come back.
    if (connections === 1) setTimeout(() => res.end(), 100);
  });
  const events: string[] = [];
  let connects = 0;
  const stream = new EventStream({
    urls: [url],
    log: pino({ level: 'silent' }),
    onConnect: () => connects++,
    onEvent: (e) => void events.push(e),
    maxBackoffS: 1,
  });
  stream.start();
  try {
    await eventually(async () => assert.ok(connects >= 2, `connects ${connects}`), 15_000, 50);
    assert.deepEqual(events.slice(0, 2), ['status_update_event', 'api_post_event']);
    assert.ok(!events.includes('framework_message_event'));
    assert.ok(!events.includes('event_stream_attached'));
  } finally {
    stream.stop();
  }
});
