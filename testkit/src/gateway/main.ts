/**
 * The fake payout gateway as a process of its own, for trying `payouts.create`
 * by hand: `pnpm --filter @ledger/testkit fake-gateway` (`PORT`, default 4000),
 * then start the server with `PAYOUT_GATEWAY_URL` set to the URL it prints.
 * Logs one JSON line per call.
 */
import { startFakeGateway } from './fakeGateway';

const port = Number(process.env['PORT'] ?? 4000);
if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(
    `fake gateway: PORT must be an integer from 0 to 65535; got ${process.env['PORT']}\n`,
  );
  process.exit(1);
}
const log = (msg: string, fields: Record<string, unknown>) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
};

const gateway = await startFakeGateway({ port });
gateway.onCall((call) => log(call.repeated ? 'repeated' : 'paid', { ...call }));
log('listening', { url: gateway.url, pid: process.pid });
const stop = () => void gateway.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
