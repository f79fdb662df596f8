// put and delete as single-operation transactions: every backend defines them the same way, so
// their semantics (revision returned; `deleted` only if the key existed) cannot drift apart.
import type { LeaseId, TxnRequest, TxnResult } from './types.js';

export abstract class TxnBackedStore {
  abstract txn(request: TxnRequest): Promise<TxnResult>;

  async put(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<number> {
    const r = await this.txn({
      success: [{ type: 'put', key, value, ...(options.lease !== undefined && { lease: options.lease }) }],
    });
    return r.revision;
  }

  async delete(key: string): Promise<{ revision: number; deleted: boolean }> {
    const r = await this.txn({
      compare: [{ key, target: 'version', result: 'greater', value: 0 }],
      success: [{ type: 'delete', key }],
    });
    return { revision: r.revision, deleted: r.succeeded };
  }
}
