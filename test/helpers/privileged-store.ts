// Writes into the master's store as a privileged client would (an operator, or a master): the one
// place tests build that client. The test runner's namespace has no route into the test bed, so
// the calls go through curl inside the master's namespace. When the control plane requires client
// certificates, this is the function that gets them (and nothing else in the tests changes).
import type { OverlayCluster } from '../../src/sim/index.js';

export interface PrivilegedStore {
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
}

export function privilegedStore(cluster: OverlayCluster): PrivilegedStore {
  const { host, url } = cluster.master;
  const call = async (path: string, body: unknown): Promise<unknown> =>
    JSON.parse(await cluster.httpPost(host, `${url}/store/v1${path}`, body)) as unknown;
  return {
    async put(key, value) {
      await call('/txn', { success: [{ type: 'put', key, value }] });
    },
    async delete(key) {
      await call('/txn', { success: [{ type: 'delete', key }] });
    },
    async get(key) {
      const r = (await call('/get', { key })) as { kv: { value: string } | null };
      return r.kv?.value;
    },
  };
}
