// The Docker Engine API over its unix socket: just what the overlay agent needs (networks).
import http from 'node:http';

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
  readonly Name: string;
  readonly Driver: 'bridge';
  readonly CheckDuplicate: true;
  readonly EnableIPv6: boolean;
  readonly IPAM: { readonly Driver: 'default'; readonly Config: readonly { readonly Subnet: string }[] };
  readonly Options: Readonly<Record<string, string>>;
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

  async inspectNetwork(name: string): Promise<DockerNetwork | undefined> {
    const r = await this.request('GET', `/networks/${encodeURIComponent(name)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) DockerClient.fail(`network inspect ${name}`, r);
    return r.data as DockerNetwork;
  }

  async createNetwork(spec: NetworkCreate): Promise<void> {
    const r = await this.request('POST', '/networks/create', spec);
    if (r.status !== 201) DockerClient.fail(`network create ${spec.Name}`, r);
  }

  async removeNetwork(name: string): Promise<void> {
    const r = await this.request('DELETE', `/networks/${encodeURIComponent(name)}`);
    if (r.status !== 204 && r.status !== 404) DockerClient.fail(`network rm ${name}`, r);
  }
}
