// HAProxy's Runtime API over the stats socket (one command line per connection, as `socat`/`nc -U`
// would send it). Used to change backend membership without a reload.
import { connect } from 'node:net';

export class RuntimeApiError extends Error {}

export function runtimeCommand(socket: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new RuntimeApiError(`${command}: no answer from ${socket} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (out += c));
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(new RuntimeApiError(`${command}: ${socket}: ${err.message}`));
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.end(`${command}\n`);
  });
}

/** Answers that mean the command failed (HAProxy answers in plain text, not with a status). */
const FAILURE =
  /^(No such|Unknown|Require|'[^']+' |Server still|Proxy|Invalid|Missing|Cannot|Could not|This server|Backend|Only|unable|error)/im;

export async function runtimeOk(socket: string, command: string): Promise<string> {
  const out = await runtimeCommand(socket, command);
  if (FAILURE.test(out.trim())) throw new RuntimeApiError(`${command}: ${out.trim()}`);
  return out;
}
