import type { DemoOutput } from './options';

/**
 * The progress line: redrawn in place on a terminal, else printed every
 * tenth of the way (and at the end).
 */
export function createProgress(
  out: DemoOutput,
  total: number,
  figures: () => { retried: number; faults: number },
) {
  const line = (done: number) => {
    const { retried, faults } = figures();
    return `${String(done).padStart(String(total).length)}/${total} transfers · ${retried} calls retried · ${faults} faults injected`;
  };
  const step = Math.max(1, Math.ceil(total / 10));
  return {
    update(done: number) {
      if (out.isTTY) out.write(`\r\x1b[K  ${line(done)}`);
      else if (done % step === 0 || done === total) out.write(`  ${line(done)}\n`);
    },
    finish() {
      if (out.isTTY) out.write('\n');
    },
  };
}
