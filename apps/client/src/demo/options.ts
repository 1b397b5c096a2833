/** What the demo runs. */
export interface DemoOptions {
  /** Transfers to make. Default 300. */
  transfers: number;
  /** Share of mutation requests the proxy breaks, in [0, 1]. Default 0.2. */
  faultRate: number;
  /** Seed of the transfer plan, the faults and the retry jitter. Default 42. */
  seed: number;
  /** Transfers in flight at once. Default 8. */
  concurrency: number;
  /** Accounts to open. Default 5. */
  accounts: number;
  /** Each account's opening balance. Default 1000. */
  initialBalance: number;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = {
  transfers: 300,
  faultRate: 0.2,
  seed: 42,
  concurrency: 8,
  accounts: 5,
  initialBalance: 1000,
};

/** Where the demo writes; a progress line is redrawn in place only on a terminal. */
export interface DemoOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}
