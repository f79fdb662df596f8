// Tiny servers for tests and the demo, run with node inside a namespace: they answer with their
// name and the client address they saw (so load balancing and NAT can be observed).
import type { Spawned, Testbed } from './testbed.js';

const HTTP_SERVER = `
const http = require('http');
const [port, name] = [Number(process.argv[1]), process.argv[2]];
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(name + ' ' + req.socket.remoteAddress.replace(/^::ffff:/, '') + '\\n');
}).listen(port, '::', () => console.log('listening ' + port));
`;

/** Starts an HTTP server in `netns` on every address, port `port`, answering "<name> <client ip>". */
export async function startHttpServer(
  tb: Testbed,
  netns: string,
  port: number,
  name: string,
): Promise<Spawned> {
  const s = tb.spawn(netns, process.execPath, ['-e', HTTP_SERVER, String(port), name]);
  const deadline = Date.now() + 10_000;
  while (!s.output().includes('listening')) {
    if (Date.now() > deadline || s.proc.exitCode !== null)
      throw new Error(`test server did not start: ${s.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return s;
}
