/**
 * drizzle-kit configuration for the ledger's own tables in MySQL and MariaDB;
 * see `drizzle.sqlite.config.ts`. All run on `pnpm --filter @ledger/server db:generate`.
 */
export default {
  dialect: 'mysql',
  schema: './src/mysql/schema.ts',
  out: './drizzle/mysql',
};
