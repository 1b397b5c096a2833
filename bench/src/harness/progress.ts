/**
 * One status line on stderr: `[ 7/42] in-process · round 2/8 · plain tRPC`.
 * Redrawn in place on a terminal, one line per step otherwise (CI logs).
 */
export class Progress {
  #done = 0;
  #total = 0;
  readonly #tty = process.stderr.isTTY === true;
  readonly #started = performance.now();

  /** Announces `steps` more steps (suites add theirs as they start). */
  plan(steps: number) {
    this.#total += steps;
  }

  step(label: string) {
    this.#done++;
    const width = String(this.#total).length;
    const elapsed = ((performance.now() - this.#started) / 1000).toFixed(0);
    const line = `[${String(this.#done).padStart(width)}/${this.#total}] ${elapsed.padStart(4)} s  ${label}`;
    if (this.#tty) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
  }

  /** A message that stays on screen, above the status line. */
  note(message: string) {
    if (this.#tty) process.stderr.write(`\r\x1b[2K${message}\n`);
    else process.stderr.write(`${message}\n`);
  }

  finish() {
    if (this.#tty) process.stderr.write('\r\x1b[2K');
  }
}
