/**
 * Object literals on a request's path never start with a spread and go on
 * with more members. On Node 20's V8 such a literal copies the spread
 * object's hidden class, and each key it then adds makes a new one on every
 * call: about a microsecond a key (2.9 µs for three), 11 µs for the completed
 * record's nine placeholder values before issue #23's third pass
 * (BENCHMARKS.md). A literal that starts with a key of its own, spreads
 * included, costs a tenth of a microsecond. Where such a literal stays (its
 * later keys override keys the spread object has, or it is not on the common
 * path), a comment `// shape: <why>` on its line or the line above says why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', 'src');

/** The modules a first execution or a replay runs through, on every store. */
const REQUEST_PATH = [
  'server/builderSteps.ts',
  'server/engine.ts',
  'server/fingerprint.ts',
  'server/inProcess.ts',
  'server/leaseRun.ts',
  'server/outcome.ts',
  'server/responseHeaders.ts',
  'server/run.ts',
  'server/signals.ts',
  'server/transactionalRun.ts',
  'drizzle/ownCommit.ts',
  'drizzle/recordRow.ts',
  'drizzle/storeOperations.ts',
  'sqlite/drivers/betterSqlite3.ts',
  'sqlite/drivers/libsql.ts',
  'sqlite/drivers/rawStatement.ts',
  'pg/drivers/nodePostgres.ts',
  'pg/drivers/postgresJs.ts',
  'pg/store.ts',
  'mysql/store.ts',
];

const ALLOW = /\/\/ shape: \S/;

/** Each literal in `text` that starts with a spread and has more members, as `path:line: text`. */
function spreadFirstLiterals(path: string, text: string): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const lines = text.split('\n');
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isObjectLiteralExpression(node)) {
      const [first, ...later] = node.properties;
      if (first && ts.isSpreadAssignment(first) && later.length > 0) {
        const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
        const allowed = ALLOW.test(lines[line] ?? '') || ALLOW.test(lines[line - 1] ?? '');
        if (!allowed) found.push(`${path}:${line + 1}: ${(lines[line] ?? '').trim()}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('object shapes on the request path', () => {
  it('no object literal starts with a spread and adds to it', () => {
    const found = REQUEST_PATH.flatMap((path) =>
      spreadFirstLiterals(path, readFileSync(join(src, path), 'utf8')),
    );
    expect(found).toEqual([]);
  });

  it('finds the pattern, and lets a literal with a reason through', () => {
    const source = [
      'const a = { ...base, added: 1 };',
      'const b = { declared: undefined, ...base };',
      '// shape: overrides base.existing',
      'const c = { ...base, existing: 2 };',
      'const d = { first: 1, ...rest, last: 2 };',
      'const e = { ...base, ...more };',
      'const f = { ...base };',
    ].join('\n');
    expect(spreadFirstLiterals('sample.ts', source)).toEqual([
      'sample.ts:1: const a = { ...base, added: 1 };',
      'sample.ts:6: const e = { ...base, ...more };',
    ]);
  });
});
