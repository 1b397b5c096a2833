const STORAGE_KEY = 'ledger.user';

/** The caller identity sent as `x-user-id`: a demo stand-in for signing in. */
export function loadUser(): string {
  return localStorage.getItem(STORAGE_KEY) ?? 'alice';
}

export function saveUser(user: string) {
  localStorage.setItem(STORAGE_KEY, user);
}
