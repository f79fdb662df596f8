// A stand-in Marathon for controller tests that need exact app JSON: serves the file it is given
// as `/v2/apps` (re-read on every request) and an `/v2/events` stream; `GET /emit` sends a
// status_update_event to every subscriber, `POST /emit` sends the event in its body. Run with `node -e FAKE_MARATHON <file> <port>`.
export const FAKE_MARATHON = String.raw`
const http = require('http'), fs = require('fs');
const file = process.argv[1], port = Number(process.argv[2]);
const clients = new Set();
http.createServer((req, res) => {
  if (req.url.startsWith('/v2/apps')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(fs.readFileSync(file));
  } else if (req.url.startsWith('/v2/events')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: event_stream_attached\ndata: {"eventType":"event_stream_attached"}\n\n');
    clients.add(res);
    req.on('close', () => clients.delete(res));
  } else if (req.url === '/emit' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const e = JSON.parse(body);
      for (const c of clients) c.write('event: ' + e.eventType + '\ndata: ' + JSON.stringify(e) + '\n\n');
      res.end(String(clients.size));
    });
  } else if (req.url === '/emit') {
    for (const c of clients) c.write('event: status_update_event\ndata: {"eventType":"status_update_event","taskStatus":"TASK_RUNNING"}\r\n{"eventType":"health_status_changed_event"}\n\n');
    res.end(String(clients.size));
  } else {
    res.writeHead(404);
    res.end();
  }
}).listen(port, '127.0.0.1', () => console.log('ready'));
`;
