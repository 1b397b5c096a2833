/** Accounts and a completed transfer the catalogue refers to, set up first. */
export interface HostileFixture {
  /** Holds 1000 before the catalogue; pays 100 to `payee` under `paidKey`. */
  payer: string;
  payee: string;
  /** alice's completed `transfers.create` key (payer → payee, 100). */
  paidKey: string;
  /** A fresh valid key per case. */
  freshKey: () => string;
}

/** A request as any HTTP client may send it, body verbatim. */
export interface HostileRequest {
  method?: 'POST' | 'GET';
  path: string;
  query?: string;
  /** `x-user-id`; `null` sends none. Default `alice`. */
  user?: string | null;
  /** The raw body: JSON text, or deliberately not. */
  body?: string;
  headers?: Record<string, string>;
}

/** The change a case may make to `idempotency_records`. */
export interface ExpectedRecordChange {
  change: 'added' | 'changed';
  scope: string;
  key: string;
  outcomeKind: 'result' | 'error';
}

/** What the documentation promises for a case. */
export interface HostileExpectation {
  status: number;
  /** `error.data.code`. */
  code?: string;
  /** `error.data.reason`; `null` means the error must carry none. */
  reason?: string | null;
  message?: RegExp;
  /** For a batch: one expectation per item, in order. */
  items?: { status: number; code?: string; reason?: string }[];
}

export interface HostileCase {
  name: string;
  /** Where the answer is documented. */
  documented: string;
  request: (fixture: HostileFixture) => HostileRequest;
  expect: HostileExpectation;
  /** Changes to the records; default none. */
  records?: (fixture: HostileFixture, request: HostileRequest) => ExpectedRecordChange[];
  /** Ledger rows it may add; default none. */
  effects?: { accounts?: number; transfers?: number };
}
