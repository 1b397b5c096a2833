/**
 * drizzle-kit configuration for the ledger's own tables in Postgres; see
 * `drizzle.sqlite.config.ts`. Both run on `pnpm --filter @ledger/server db:generate`.
 */
export default {
  dialect: 'postgresql',
  schema: './src/pg/schema.ts',
  out: './drizzle/pg',
};
