/**
 * drizzle-kit configuration for the ledger's own tables in SQLite (the
 * idempotency table has its own migrations, shipped by `trpc-idempotency`).
 * Generate after a schema change: `pnpm --filter @ledger/server db:generate`.
 * A plain object rather than `defineConfig`, so this app does not depend on drizzle-kit.
 */
export default {
  dialect: 'sqlite',
  schema: './src/sqlite/schema.ts',
  out: './drizzle/sqlite',
};
