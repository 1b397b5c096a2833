import { useSyncExternalStore } from 'react';

/**
 * The account ids this browser knows per user: the ledger API reads accounts
 * by id only, so the page remembers the ones opened (or sent money to) here.
 */
const STORAGE_KEY = 'ledger.accounts';
const listeners = new Set<() => void>();
let snapshot: Record<string, string[]> = read();

function read(): Record<string, string[]> {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    return typeof stored === 'object' && stored !== null
      ? (stored as Record<string, string[]>)
      : {};
  } catch {
    return {};
  }
}

/** Remembers `accountId` for `user`. */
export function rememberAccount(user: string, accountId: string) {
  const known = snapshot[user] ?? [];
  if (known.includes(accountId)) return;
  snapshot = { ...snapshot, [user]: [...known, accountId] };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(snapshot));
  for (const listener of listeners) listener();
}

const none: string[] = [];

/** The account ids known for `user`, oldest first. */
export function useKnownAccounts(user: string): string[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => snapshot[user] ?? none,
  );
}
