// The program every emulated task runs: TCP ports answer HTTP requests (200, body "<task id>\n
// <client address>\n") and raw TCP clients (first line "<task id>"), UDP ports answer each
// datagram with "<task id>\n". Run with `node -e TASK_SERVER '<json>'`; prints "ready" when bound.
export const TASK_SERVER = String.raw`
const net = require('net'), http = require('http'), dgram = require('dgram');
const cfg = JSON.parse(process.argv[1]);
const body = (addr) => cfg.id + '\n' + 'client ' + String(addr).replace(/^::ffff:/, '') + '\n';
const web = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'x-task-id': cfg.id });
  res.end(body(req.socket.remoteAddress));
});
web.keepAliveTimeout = 5000;
let pending = cfg.tcp.length + cfg.udp.length;
const bound = () => { if (--pending === 0) console.log('ready'); };
for (const port of cfg.tcp) {
  net.createServer((sock) => {
    sock.on('error', () => {});
    const timer = setTimeout(() => { sock.write(cfg.id + '\n'); sock.pipe(sock); }, 200);
    sock.once('data', (chunk) => {
      clearTimeout(timer);
      sock.pause();
      sock.unshift(chunk);
      if (/^[A-Z]+ \S+ HTTP\/1/.test(chunk.toString('latin1', 0, 64))) { web.emit('connection', sock); sock.resume(); }
      else { sock.write(cfg.id + '\n'); sock.pipe(sock); }
    });
  }).listen(port, '::', bound);
}
for (const port of cfg.udp) {
  for (const type of ['udp4', 'udp6']) {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    s.on('message', (_m, r) => s.send(cfg.id + '\n', r.port, r.address));
    s.on('error', (e) => { console.error(String(e)); });
    s.bind(port, type === 'udp4' ? '0.0.0.0' : '::');
  }
  bound();
}
if (pending === 0) console.log('ready');
process.on('SIGTERM', () => process.exit(0));
`;
