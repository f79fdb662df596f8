// The Docker Engine API over its unix socket: just what the overlay agent needs (networks). The
// network to create is typed (overlay name, bridge interface name, CIDRs) and re-checked here.
import http from 'node:http';
import {
  isIfName,
  isIpCidr,
  isOverlayName,
  type IfName,
  type IpCidr,
  type OverlayName,
} from '../net/index.js';
import { need, needInt, needOneOf } from './exec.js';

export interface DockerNetwork {
  readonly Name: string;
  readonly Driver: string;
  readonly EnableIPv6: boolean;
  readonly IPAM: {
    readonly Config: readonly { readonly Subnet?: string; readonly Gateway?: string }[] | null;
  };
  readonly Options: Readonly<Record<string, string>>;
}

export interface NetworkCreate {
  readonly Name: OverlayName;
  readonly Driver: 'bridge';
  readonly CheckDuplicate: true;
  readonly EnableIPv6: boolean;
  readonly IPAM: { readonly Driver: 'default'; readonly Config: readonly { readonly Subnet: IpCidr }[] };
  readonly Options: {
    readonly 'com.docker.network.bridge.name': IfName;
    readonly 'com.docker.network.bridge.enable_ip_masquerade': 'false';
    readonly 'com.docker.network.driver.mtu': `${number}`;
  };
}

/** The create request, field by field from the typed spec (nothing else passes through). */
function createBody(spec: NetworkCreate): NetworkCreate {
  const c = 'docker network create';
  const mtuText = spec.Options['com.docker.network.driver.mtu'];
  // Digits only: Number() would read "1420\n" as 1420.
  const mtu = needInt(/^\d{1,5}$/.test(mtuText) ? Number(mtuText) : NaN, 68, 65535, c, 'mtu');
  return {
    Name: need(isOverlayName, spec.Name, c, 'Name'),
    Driver: needOneOf(spec.Driver, ['bridge'], c, 'Driver'),
    CheckDuplicate: true,
    EnableIPv6: spec.EnableIPv6 === true,
    IPAM: {
      Driver: 'default',
      Config: spec.IPAM.Config.map((x) => ({ Subnet: need(isIpCidr, x.Subnet, c, 'Subnet') })),
    },
    Options: {
      'com.docker.network.bridge.name': need(
        isIfName,
        spec.Options['com.docker.network.bridge.name'],
        c,
        'bridge',
      ),
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      'com.docker.network.driver.mtu': `${mtu}`,
    },
  };
}

export class DockerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

export class DockerClient {
  constructor(
    readonly socketPath = '/var/run/docker.sock',
    private readonly timeoutMs = 15_000,
  ) {}

  private request(method: string, path: string, body?: unknown): Promise<{ status: number; data: unknown }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          timeout: this.timeoutMs,
          headers: payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {},
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => {
            let data: unknown = text;
            try {
              data = text ? JSON.parse(text) : undefined;
            } catch {
              // plain-text answers (/_ping) stay text
            }
            resolve({ status: res.statusCode ?? 0, data });
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from ${this.socketPath} within ${this.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  private static fail(what: string, r: { status: number; data: unknown }): never {
    const msg = (r.data as { message?: string } | undefined)?.message ?? String(r.data);
    throw new DockerError(r.status, `docker ${what}: ${r.status} ${msg}`);
  }

  /** Resolves if a daemon answers on the socket; rejects with the reason otherwise. */
  async ping(): Promise<void> {
    const r = await this.request('GET', '/_ping');
    if (r.status !== 200) DockerClient.fail('ping', r);
  }

  async inspectNetwork(name: OverlayName): Promise<DockerNetwork | undefined> {
    const n = need(isOverlayName, name, 'docker network inspect', 'name');
    const r = await this.request('GET', `/networks/${encodeURIComponent(n)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) DockerClient.fail(`network inspect ${name}`, r);
    return r.data as DockerNetwork;
  }

  async createNetwork(spec: NetworkCreate): Promise<void> {
    const r = await this.request('POST', '/networks/create', createBody(spec));
    if (r.status !== 201) DockerClient.fail(`network create ${spec.Name}`, r);
  }

  async removeNetwork(name: OverlayName): Promise<void> {
    const n = need(isOverlayName, name, 'docker network rm', 'name');
    const r = await this.request('DELETE', `/networks/${encodeURIComponent(n)}`);
    if (r.status !== 204 && r.status !== 404) DockerClient.fail(`network rm ${name}`, r);
  }
}
