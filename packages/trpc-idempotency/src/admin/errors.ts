/** The database behind an admin command cannot be opened or used; the CLI exits with code 3. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}
