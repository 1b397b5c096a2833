/**
 * The package's layers point one way: the store contract at the bottom, the
 * engine above it, the stores and dialects beside it, the entries on top.
 * Every import between two folders of `src/` (static, re-export or dynamic)
 * must be an edge of {@link ALLOWED}, and every foreign internal (tRPC's
 * `unstable-core-do-not-import`, a `_def` or `_zod` read) must sit in
 * `src/internal/`. A new folder needs its row; a new backward import fails.
 * @see ../../../docs/ARCHITECTURE.md
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', 'src');

/**
 * Which layers each layer (a folder of `src/`, or the root `index.ts`) may
 * import, bottom to top. Its own files it may always import.
 */
const ALLOWED: Record<string, readonly string[]> = {
  // The bottom: shared by server and browser code, and the store contract.
  shared: [],
  store: [],
  // Foreign internals (tRPC's, zod's), each read once.
  internal: ['shared'],
  // The engine and the builder, on the contract.
  server: ['store', 'internal', 'shared'],
  // Stores: in memory, and the SQL dialects on their shared Drizzle parts.
  memory: ['store'],
  drizzle: ['store'],
  sqlite: ['drizzle', 'store'],
  pg: ['drizzle', 'store'],
  mysql: ['drizzle', 'store'],
  // Entries on top.
  'index.ts': ['server', 'store', 'shared'],
  testing: ['server', 'store'],
  admin: ['sqlite', 'pg', 'mysql', 'server', 'store'],
  cli: ['admin', 'store'],
  // The browser entries.
  client: ['shared'],
  'react-query': ['client', 'shared'],
};

/** Where foreign internals may be read. */
const INTERNALS_LAYER = 'internal';
const FOREIGN_INTERNAL_MODULES = [/^@trpc\/server\/unstable-core-do-not-import/];
/** Undocumented members of tRPC's and zod's objects, read at run time. */
const FOREIGN_INTERNAL_MEMBERS = new Set(['_def', '_zod']);

interface SourceFile {
  /** Relative to `src/`, with `/` separators. */
  path: string;
  text: string;
}

const layerOf = (path: string) => (path.includes('/') ? path.split('/')[0]! : path);

/** The source files of `src/`, tests excluded. */
function sourceFiles(): SourceFile[] {
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.tsx?$/.test(file) && !/\.test(-d)?\.tsx?$/.test(file))
    .map((file) => ({
      path: file.split(sep).join('/'),
      text: readFileSync(join(src, file), 'utf8'),
    }));
}

/** Every module specifier of a file: imports, re-exports and `import()` calls. */
function specifiersOf(file: SourceFile) {
  return ts.preProcessFile(file.text, true, true).importedFiles.map((entry) => entry.fileName);
}

/** What breaks the layering in `files`: imports off the table, and foreign internals outside `internal/`. */
function layerViolations(files: SourceFile[]) {
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file.path);
    const allowed = ALLOWED[from];
    if (!allowed) {
      violations.push(`${file.path}: its layer "${from}" has no row in ALLOWED`);
      continue;
    }
    for (const specifier of specifiersOf(file)) {
      if (specifier.startsWith('.')) {
        const target = relative(src, join(src, dirname(file.path), specifier))
          .split(sep)
          .join('/');
        // A root file is its own layer (`index.ts`); a folder's index is its folder's.
        const to =
          target.includes('/') || existsSync(join(src, target)) ? layerOf(target) : `${target}.ts`;
        if (to !== from && !allowed.includes(to)) {
          violations.push(`${file.path}: imports ${specifier} (${from} → ${to})`);
        }
      } else if (
        from !== INTERNALS_LAYER &&
        FOREIGN_INTERNAL_MODULES.some((internal) => internal.test(specifier))
      ) {
        violations.push(`${file.path}: imports ${specifier} outside src/${INTERNALS_LAYER}/`);
      }
    }
    if (from !== INTERNALS_LAYER) {
      for (const member of foreignMembersRead(file)) {
        violations.push(`${file.path}: reads .${member} outside src/${INTERNALS_LAYER}/`);
      }
    }
  }
  return violations;
}

/** The foreign internal members a file reads at run time (`x._def`, `x?._zod`). */
function foreignMembersRead(file: SourceFile) {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const read: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isPropertyAccessExpression(node) && FOREIGN_INTERNAL_MEMBERS.has(node.name.text)) {
      read.push(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return read;
}

describe('the layer graph of src/', () => {
  const files = sourceFiles();

  it('has only the allowed imports, and foreign internals only in src/internal/', () => {
    expect(layerViolations(files)).toEqual([]);
  });

  it('is a table whose every layer exists, with no cycle', () => {
    const layers = new Set(files.map((file) => layerOf(file.path)));
    expect([...layers].sort()).toEqual(Object.keys(ALLOWED).sort());
    // Depth-first: a layer reached again while still on the path closes a cycle.
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (layer: string, path: string[]): void => {
      if (state.get(layer) === 'done') return;
      expect(state.get(layer), `cycle: ${[...path, layer].join(' → ')}`).not.toBe('visiting');
      state.set(layer, 'visiting');
      for (const next of ALLOWED[layer] ?? []) visit(next, [...path, layer]);
      state.set(layer, 'done');
    };
    for (const layer of Object.keys(ALLOWED)) visit(layer, []);
  });

  it('fails on a backward import, a dynamic one, and a foreign internal read outside src/internal/', () => {
    expect(
      layerViolations([
        { path: 'store/late.ts', text: "import { createEngine } from '../server/engine';" },
        { path: 'server/lazy.ts', text: "const pg = () => import('../pg/store');" },
        { path: 'drizzle/x.ts', text: "export { memoryIdempotencyStore } from '../memory';" },
        {
          path: 'server/peek.ts',
          text: "import { getParseFn } from '@trpc/server/unstable-core-do-not-import';\nconst lazy = (router: { _def: { lazy: object } }) => router._def.lazy;",
        },
        { path: 'mssql/store.ts', text: "import type { IdempotencyStore } from '../store/store';" },
      ]),
    ).toEqual([
      'store/late.ts: imports ../server/engine (store → server)',
      'server/lazy.ts: imports ../pg/store (server → pg)',
      'drizzle/x.ts: imports ../memory (drizzle → memory)',
      'server/peek.ts: imports @trpc/server/unstable-core-do-not-import outside src/internal/',
      'server/peek.ts: reads ._def outside src/internal/',
      'mssql/store.ts: its layer "mssql" has no row in ALLOWED',
    ]);
  });
});
