import { defaultClientConditions, defineConfig } from 'vite';

/** Where `pnpm dev` sends API calls: the ledger server of `pnpm start`. */
const api = process.env['LEDGER_URL'] ?? 'http://127.0.0.1:3000';

export default defineConfig({
  // The library resolves to its TypeScript source inside the workspace: nothing to build first.
  resolve: { conditions: ['@trpc-idempotency/source', ...defaultClientConditions] },
  server: { proxy: { '/trpc': api, '/flaky': api } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rolldownOptions: {
      onwarn(warning, warn) {
        // TanStack Query marks its hooks "use client" for React Server Components; no meaning here.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
