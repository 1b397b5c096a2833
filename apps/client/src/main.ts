#!/usr/bin/env -S node --conditions=@trpc-idempotency/source --import tsx
/** The `ledger` command: see `ledger --help`. */
import { runCli } from './cli';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
