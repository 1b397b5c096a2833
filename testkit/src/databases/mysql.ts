// The library's MariaDB helper, one implementation for the workspace (as for Postgres):
// it starts Debian's mariadbd on a free port, or uses the server MYSQL_URL names.
export {
  createMysqlTestDatabase,
  type MysqlServer,
  type MysqlTestDatabase,
  startMysql,
} from '../../../packages/trpc-idempotency/test/stores/mariadb';
