/** How much the server says. `silent` says nothing at all. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Structured logging: one JSON object per line. */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Reads `LOG_LEVEL`; anything unknown is an error rather than a silent default. */
export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  const level = value.toLowerCase();
  if (level in RANK) return level as LogLevel;
  throw new Error(`LOG_LEVEL must be one of ${Object.keys(RANK).join(', ')}; got ${value}`);
}

/**
 * A logger writing JSON lines to `write` (stdout by default):
 * `{"time":"…","level":"info","msg":"executed","path":"transfers.create",…}`.
 */
export function createLogger(opts: { level: LogLevel; write?: (line: string) => void }): Logger {
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const threshold = RANK[opts.level];
  const at =
    (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
      if (RANK[level] < threshold) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
    };
  return {
    level: opts.level,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

/** A logger that drops everything (in-process tests). */
export const silentLogger: Logger = createLogger({ level: 'silent' });
