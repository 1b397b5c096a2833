import type Database from 'better-sqlite3';
import { is, Param, Placeholder, type Query } from 'drizzle-orm';

/**
 * A Drizzle query run as a raw better-sqlite3 statement: the SQL text Drizzle
 * generated, prepared once on the connection, and its placeholders resolved
 * to positions once. A call then binds an array and runs the statement, where
 * a Drizzle prepared query fills its placeholders (`is()` checks per
 * parameter) and maps result rows column by column on every call — measured
 * at several µs per statement on the hot path (BENCHMARKS.md). Drizzle's
 * logger does not see these statements.
 *
 * Only for columns whose driver value is the JavaScript value (text,
 * integer): the column encoders are not applied.
 */
export function rawStatement<TValues extends Record<string, unknown>>(
  client: Database.Database,
  query: Query,
): { statement: Database.Statement; bind: (values: TValues) => unknown[] } {
  const statement = client.prepare(query.sql);
  // Each parameter is a placeholder's name or a constant Drizzle inlined as a parameter.
  const slots = query.params.map((param): { name: string } | { value: unknown } => {
    if (is(param, Placeholder)) return { name: param.name };
    if (is(param, Param) && is(param.value, Placeholder)) return { name: param.value.name };
    return { value: param };
  });
  const bind = (values: TValues): unknown[] => {
    const bound = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as { name?: string; value?: unknown };
      bound[i] = slot.name === undefined ? slot.value : values[slot.name];
    }
    return bound;
  };
  return { statement, bind };
}

/**
 * Reads a row of `columns` (a select's result in array mode) as an object
 * keyed by the columns' property names, in the order Drizzle selects them.
 */
export function rowReader<TRow>(columns: readonly string[]) {
  return (values: unknown[]): TRow => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) row[columns[i] as string] = values[i];
    return row as TRow;
  };
}
