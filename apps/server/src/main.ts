/**
 * The ledger server's entry point: reads the environment, serves, and stops
 * cleanly on SIGINT/SIGTERM. Everything else lives in `openLedgerApp`.
 */
import { openLedgerApp } from './app';
import { readConfig } from './config';
import { createLogger } from './logger';

async function main() {
  const config = readConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const app = await openLedgerApp({
    databaseUrl: config.databaseUrl,
    busyTimeoutMs: config.busyTimeoutMs,
    poolSize: config.poolSize,
    pgLockTimeoutMs: config.pgLockTimeoutMs,
    pgDriver: config.pgDriver,
    logger,
    transferDelayMs: config.transferDelayMs,
    inFlight: config.inFlight,
    leaseMs: config.leaseMs,
    ttlMs: config.ttlMs,
    horizonMs: config.horizonMs,
    maxBatchSize: config.maxBatchSize,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    payoutGatewayUrl: config.payoutGatewayUrl,
    payoutGatewayTimeoutMs: config.payoutGatewayTimeoutMs,
    payoutDelayMs: config.payoutDelayMs,
    payoutDelayAt: config.payoutDelayAt,
  });
  const { url } = await app
    .listen({ port: config.port, host: config.host })
    .catch(async (error) => {
      await app.database.close();
      throw error;
    });
  logger.info('listening', {
    url,
    database: app.database.location,
    ...(app.database.kind === 'postgres' ? { driver: app.database.driver } : {}),
    pid: process.pid,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal while draining means "now".
    if (stopping) {
      logger.warn('stopped before in-flight requests finished', { signal });
      process.exit(1);
    }
    stopping = true;
    // close() stops listening at once, so by the time this line is out, new connections are refused.
    const closed = app.close();
    logger.info('stopping', { signal });
    closed.then(
      ({ forced }) => {
        logger.info('stopped', { forced });
        process.exit(forced ? 1 : 0);
      },
      (error: unknown) => {
        logger.error('stop failed', { message: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `ledger server: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
