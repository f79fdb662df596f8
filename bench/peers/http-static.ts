// The HTTP floor for benchmarks: a fastify server that answers POST with a fixed body and GET
// with a fixed document of a given size, doing no work. Prints "listening <url>".
import Fastify from 'fastify';

const postBody = process.argv[2] ?? '{}';
const getBytes = Number(process.argv[3] ?? '0');
const doc = `{"data":"${'x'.repeat(Math.max(0, getBytes - 11))}"}`;
const app = Fastify({ logger: false });
app.post('/*', (_req, reply) => reply.type('application/json').send(postBody));
app.get('/*', (_req, reply) => reply.type('application/json').send(doc));
const url = await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
process.stdout.write(`listening ${url}\n`);
