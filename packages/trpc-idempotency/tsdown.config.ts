import { defineConfig } from 'tsdown';

const shared = { platform: 'node', target: 'node20', shims: true } as const;

export default defineConfig([
  {
    ...shared,
    // Each public entry is one build entry, in ESM and CommonJS with their declarations.
    entry: {
      index: 'src/index.ts',
      sqlite: 'src/sqlite/index.ts',
      pg: 'src/pg/index.ts',
      memory: 'src/memory/index.ts',
      mysql: 'src/mysql/index.ts',
      store: 'src/store/index.ts',
      client: 'src/client/index.ts',
      admin: 'src/admin/index.ts',
      'react-query': 'src/react-query/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
  },
  {
    ...shared,
    // vitest is ESM-only, so the conformance suite is too.
    entry: { testing: 'src/testing/index.ts' },
    format: ['esm'],
    dts: true,
    clean: false,
  },
  {
    ...shared,
    // The operations command: an executable ESM file (top-level await).
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
  },
]);
