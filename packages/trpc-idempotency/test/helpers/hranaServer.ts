/**
 * A Hrana-over-HTTP server (protocol version 2, JSON), the protocol of sqld
 * and Turso, for the tests of the libSQL store's remote code path: npm ships
 * no sqld, so this stands in for it. It is not sqld: a small server written
 * for these tests on a real SQLite file (better-sqlite3), run as a process of
 * its own. What `@libsql/client` does against a `libsql://` or `https://`
 * database runs unchanged against it: streams with batons, an interactive
 * transaction per stream on a connection of its own, stored SQL, batches with
 * conditions, errors with SQLite's codes (the primary code, as sqld sends it).
 *
 * Like sqld, a statement that needs the lock another stream's transaction
 * holds waits for it (here: retried asynchronously, up to `LOCK_WAIT_MS`),
 * without stopping the server for the other streams.
 *
 * Run as `node --import tsx hranaServer.ts FILE`; it prints its port.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

const LOCK_WAIT_MS = 10_000;
const STREAM_IDLE_MS = 60_000;

type Value =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string };
interface Stmt {
  sql?: string;
  sql_id?: number;
  args?: Value[];
  named_args?: { name: string; value: Value }[];
  want_rows?: boolean;
}
type BatchCond =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: BatchCond }
  | { type: 'and' | 'or'; conds: BatchCond[] }
  | { type: 'is_autocommit' };
type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: Stmt }
  | { type: 'batch'; batch: { steps: { condition?: BatchCond; stmt: Stmt }[] } }
  | { type: 'sequence'; sql?: string; sql_id?: number }
  | { type: 'store_sql'; sql_id: number; sql: string }
  | { type: 'close_sql'; sql_id: number }
  | { type: 'get_autocommit' }
  | { type: 'describe' };

class HranaError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

interface Stream {
  connection: Database.Database;
  sqls: Map<number, string>;
  idle: NodeJS.Timeout;
}

const file = process.argv[2];
if (!file) throw new Error('usage: hranaServer.ts FILE');
const streams = new Map<string, Stream>();

/** Connections of closed streams, for the next streams (as sqld pools them). */
const idleConnections: Database.Database[] = [];

function openStream(): Stream {
  let connection = idleConnections.pop();
  if (!connection) {
    connection = new Database(file!);
    // No busy wait on the event loop: a lock another stream holds is waited for asynchronously.
    connection.pragma('busy_timeout = 0');
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
  }
  return { connection, sqls: new Map(), idle: setTimeout(() => {}, 0) };
}

function closeStream(baton: string | undefined, stream: Stream) {
  clearTimeout(stream.idle);
  if (baton) streams.delete(baton);
  if (stream.connection.inTransaction) stream.connection.exec('ROLLBACK');
  idleConnections.push(stream.connection);
}

function toArgument(value: Value): unknown {
  switch (value.type) {
    case 'null':
      return null;
    case 'integer': {
      const big = BigInt(value.value);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    case 'float':
      return value.value;
    case 'text':
      return value.value;
    case 'blob':
      return Buffer.from(value.base64, 'base64');
  }
}

function toValue(value: unknown): Value {
  if (value === null || value === undefined) return { type: 'null' };
  if (typeof value === 'bigint') return { type: 'integer', value: String(value) };
  if (typeof value === 'number') return { type: 'float', value };
  if (typeof value === 'string') return { type: 'text', value };
  if (Buffer.isBuffer(value)) return { type: 'blob', base64: value.toString('base64') };
  throw new Error(`cannot encode ${typeof value}`);
}

/** SQLite's error as sqld reports it: its message, and the primary result code. */
function sqliteError(error: unknown): HranaError {
  if (error instanceof HranaError) return error;
  const code = (error as { code?: unknown }).code;
  const primary =
    typeof code === 'string' && code.startsWith('SQLITE_')
      ? code.split('_').slice(0, 2).join('_')
      : 'SQLITE_UNKNOWN';
  return new HranaError(error instanceof Error ? error.message : String(error), primary);
}

const isBusy = (error: unknown) => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED');
};

/** Runs one statement on the stream's connection, waiting for another stream's lock. */
async function execute(stream: Stream, stmt: Stmt) {
  const sql = stmt.sql ?? stream.sqls.get(stmt.sql_id ?? -1);
  if (sql === undefined) throw new HranaError('statement without SQL', 'SQL_NOT_FOUND');
  const named = Object.fromEntries(
    (stmt.named_args ?? []).map(({ name, value }) => [
      name.replace(/^[:@$]/, ''),
      toArgument(value),
    ]),
  );
  const positional = (stmt.args ?? []).map(toArgument);
  const args = stmt.named_args?.length ? [named] : positional;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    try {
      return run(stream.connection, sql, args);
    } catch (error) {
      if (!isBusy(error) || Date.now() > deadline) throw sqliteError(error);
      await sleep(pause);
    }
  }
}

function run(connection: Database.Database, sql: string, args: unknown[]) {
  const statement = connection.prepare(sql);
  if (statement.reader) {
    statement.safeIntegers(true).raw(true);
    const rows = statement.all(...args) as unknown[][];
    const changes = statement.readonly
      ? 0
      : Number(connection.prepare('SELECT changes()').pluck().get());
    return {
      cols: statement.columns().map((column) => ({ name: column.name, decltype: column.type })),
      rows: rows.map((row) => row.map(toValue)),
      affected_row_count: changes,
      last_insert_rowid: null,
    };
  }
  const info = statement.run(...args);
  return {
    cols: [],
    rows: [],
    affected_row_count: info.changes,
    last_insert_rowid: String(info.lastInsertRowid),
  };
}

function holds(
  cond: BatchCond,
  results: unknown[],
  errors: unknown[],
  connection: Database.Database,
): boolean {
  switch (cond.type) {
    case 'ok':
      return results[cond.step] !== null && results[cond.step] !== undefined;
    case 'error':
      return errors[cond.step] !== null && errors[cond.step] !== undefined;
    case 'not':
      return !holds(cond.cond, results, errors, connection);
    case 'and':
      return cond.conds.every((c) => holds(c, results, errors, connection));
    case 'or':
      return cond.conds.some((c) => holds(c, results, errors, connection));
    case 'is_autocommit':
      return !connection.inTransaction;
  }
}

async function handle(stream: Stream, request: StreamRequest) {
  switch (request.type) {
    case 'execute':
      return { type: 'execute', result: await execute(stream, request.stmt) };
    case 'batch': {
      const results: unknown[] = [];
      const errors: unknown[] = [];
      for (const step of request.batch.steps) {
        if (step.condition && !holds(step.condition, results, errors, stream.connection)) {
          results.push(null);
          errors.push(null);
          continue;
        }
        try {
          results.push(await execute(stream, step.stmt));
          errors.push(null);
        } catch (error) {
          const failure = sqliteError(error);
          results.push(null);
          errors.push({ message: failure.message, code: failure.code });
        }
      }
      return { type: 'batch', result: { step_results: results, step_errors: errors } };
    }
    case 'sequence': {
      const sql = request.sql ?? stream.sqls.get(request.sql_id ?? -1);
      try {
        stream.connection.exec(sql ?? '');
      } catch (error) {
        throw sqliteError(error);
      }
      return { type: 'sequence' };
    }
    case 'store_sql':
      stream.sqls.set(request.sql_id, request.sql);
      return { type: 'store_sql' };
    case 'close_sql':
      stream.sqls.delete(request.sql_id);
      return { type: 'close_sql' };
    case 'get_autocommit':
      return { type: 'get_autocommit', is_autocommit: !stream.connection.inTransaction };
    case 'close':
      return { type: 'close' };
    default:
      throw new HranaError(`unsupported request ${request.type}`, 'UNSUPPORTED');
  }
}

async function pipeline(body: { baton?: string | null; requests: StreamRequest[] }) {
  let baton = body.baton ?? undefined;
  let stream: Stream | undefined;
  if (baton) {
    stream = streams.get(baton);
    if (!stream) throw new HranaError('unknown or expired baton', 'STREAM_EXPIRED');
    streams.delete(baton);
    clearTimeout(stream.idle);
  } else {
    stream = openStream();
  }
  const results = [];
  let closed = false;
  for (const request of body.requests) {
    if (closed) {
      results.push({ type: 'error', error: { message: 'stream closed', code: 'STREAM_CLOSED' } });
      continue;
    }
    try {
      results.push({ type: 'ok', response: await handle(stream, request) });
    } catch (error) {
      const failure = sqliteError(error);
      results.push({ type: 'error', error: { message: failure.message, code: failure.code } });
    }
    if (request.type === 'close') closed = true;
  }
  if (closed) {
    closeStream(undefined, stream);
    baton = undefined;
  } else {
    baton = randomUUID();
    const kept = stream;
    const nextBaton = baton;
    kept.idle = setTimeout(() => closeStream(nextBaton, kept), STREAM_IDLE_MS);
    streams.set(baton, kept);
  }
  return { baton: baton ?? null, base_url: null, results };
}

async function onRequest(req: IncomingMessage, res: ServerResponse) {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && req.url === '/v2') return send(200, {});
  if (req.method === 'POST' && req.url === '/v2/pipeline') {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      return send(200, await pipeline(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    } catch (error) {
      const failure = sqliteError(error);
      return send(400, { message: failure.message, code: failure.code });
    }
  }
  // Everything else, the protobuf endpoints included: the client then speaks version 2 in JSON.
  send(404, { message: 'not found' });
}

const server = createServer((req, res) => {
  onRequest(req, res).catch((error: unknown) => {
    res.writeHead(500);
    res.end(String(error));
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : ''}\n`);
});
const stop = () => {
  for (const [baton, stream] of streams) closeStream(baton, stream);
  for (const connection of idleConnections) connection.close();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
