const amounts = new Intl.NumberFormat('en-US');
const times = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** An amount in the ledger's integer units. */
export function formatAmount(amount: number) {
  return amounts.format(amount);
}

export function formatTime(at: string | number) {
  return times.format(new Date(at));
}

/** The start of a key, enough to tell operations apart at a glance. */
export function shortKey(key: string) {
  return key.length > 13 ? `${key.slice(0, 8)}…` : key;
}
