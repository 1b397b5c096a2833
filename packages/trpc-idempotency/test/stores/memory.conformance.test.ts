import { type MemoryTransaction, memoryIdempotencyStore } from '../../src/memory';
import { describeIdempotencyStoreConformance } from '../../src/testing';

describeIdempotencyStoreConformance({
  name: 'memory',
  async createStore() {
    // The probe's "table": a write is queued on the transaction and lands with the record.
    const rows: number[] = [];
    return {
      store: memoryIdempotencyStore(),
      probe: {
        write: (tx: MemoryTransaction, value) => tx.onCommit(() => rows.push(value)),
        count: async () => rows.length,
      },
    };
  },
});
