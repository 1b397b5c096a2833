#!/usr/bin/env node
import { runCli } from './runCli';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  now: Date.now,
});
