// Parses HOST:PORT (IPv6 as [addr]:port) for --listen options.
import { parseAddress } from '../net/index.js';
import { UsageError } from './usage-error.js';

export function parseListen(text: string, option = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65535 || (m[1] !== undefined && parseAddress(m[1])?.family !== 6)) {
    throw new UsageError(`${option}: "${text}" is not HOST:PORT (IPv6 as [ADDR]:PORT, port 0-65535)`);
  }
  return { host, port };
}
