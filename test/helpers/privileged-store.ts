// Writes into the master's store as a privileged client (a master's certificate): the one place
// the tests build that client. The test runner's namespace has no route into the test bed, so the
// calls go through curl inside the master's namespace (OverlayCluster.controlPlane).
import type { OverlayCluster } from '../../src/sim/index.js';

export interface PrivilegedStore {
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
}

export function privilegedStore(cluster: OverlayCluster): PrivilegedStore {
  const { store } = cluster.controlPlane('master');
  return {
    async put(key, value) {
      await store.put(key, value);
    },
    async delete(key) {
      await store.delete(key);
    },
    async get(key) {
      return (await store.get(key))?.value;
    },
  };
}
