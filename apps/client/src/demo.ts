/** `pnpm demo`: the same as `ledger demo`, with its options. */
import { runCli } from './cli';

process.exitCode = await runCli(['demo', ...process.argv.slice(2)], {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
