// conntrack: deleting the flows of one VIP to one departed backend, by typed tuple.
import { ipFamily, isIpAddr, isPort, type IpAddr, type Port } from '../net/index.js';
import { KernelInputError, need, needOneOf, run, type RunOptions } from './exec.js';

export interface ConntrackFlow {
  readonly protocol: 'tcp' | 'udp';
  /** The VIP the client connected to. */
  readonly origDst: IpAddr;
  readonly origDstPort: Port;
  /** The backend that answers. */
  readonly replySrc: IpAddr;
  readonly replySrcPort: Port;
}

/** Whether the conntrack tool is installed. */
export async function conntrackAvailable(opts?: RunOptions): Promise<boolean> {
  try {
    await run('conntrack', ['--version'], opts);
    return true;
  } catch {
    return false;
  }
}

export function conntrackDeleteArgs(f: ConntrackFlow): string[] {
  const c = 'conntrack -D';
  const dst = need(isIpAddr, f.origDst, c, 'origDst');
  const src = need(isIpAddr, f.replySrc, c, 'replySrc');
  if (ipFamily(dst) !== ipFamily(src)) throw new KernelInputError(c, 'replySrc', src);
  return [
    '-D',
    '-f',
    ipFamily(dst) === 4 ? 'ipv4' : 'ipv6',
    '-p',
    needOneOf(f.protocol, ['tcp', 'udp'], c, 'protocol'),
    '--orig-dst',
    dst,
    '--orig-port-dst',
    String(need(isPort, f.origDstPort, c, 'origDstPort')),
    '--reply-src',
    src,
    '--reply-port-src',
    String(need(isPort, f.replySrcPort, c, 'replySrcPort')),
  ];
}

/** Deletes the matching flows; none matching (exit 1) is not an error. */
export async function conntrackDelete(f: ConntrackFlow, opts?: RunOptions): Promise<void> {
  await run('conntrack', conntrackDeleteArgs(f), opts).catch(() => {});
}
