import type { Progress } from './progress';
import type { SuiteResult } from './results';

/** What every suite gets from the command line. */
export interface SuiteContext {
  /** Short runs: a smoke check of the harness, not numbers to publish. */
  quick: boolean;
  progress: Progress;
}

export type Suite = (ctx: SuiteContext) => Promise<SuiteResult>;
