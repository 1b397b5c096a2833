/** What other workspace packages (the reliability suite) use from the client app: the typed ledger client. */
export { createLedgerClient, type LedgerClient } from './ledgerClient';
