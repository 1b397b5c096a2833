/**
 * Type errors a user meets say what is wrong: each snippet below is compiled
 * with this package's compiler options, and its diagnostic must carry the
 * explanation, not only "Expected 2 arguments" or nothing at all.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

const snippets = new Map<string, string>();
let compiled: Map<string, string[]> | undefined;

/**
 * The messages of the errors in `source`, compiled as a file of `test/`. All
 * snippets compile in one program (the first call), as a project would.
 */
function typeErrors(name: string): string[] {
  compiled ??= compile();
  return compiled.get(name)!;
}

function compile() {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  )!;
  const files = new Map(
    [...snippets].map(([name, source]) => [join(root, 'test', `__${name}.ts`), source]),
  );
  const host = ts.createCompilerHost(config.options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => files.has(file) || fileExists(file);
  host.readFile = (file) => files.get(file) ?? readFile(file);
  host.getSourceFile = (file, version, onError, create) => {
    const source = files.get(file);
    return source === undefined
      ? getSourceFile(file, version, onError, create)
      : ts.createSourceFile(file, source, version);
  };
  const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host);
  return new Map(
    [...snippets.keys()].map((name) => [
      name,
      ts
        .getPreEmitDiagnostics(program, program.getSourceFile(join(root, 'test', `__${name}.ts`)))
        .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')),
    ]),
  );
}

const router = `
import { initTRPC } from '@trpc/server';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { z } from 'zod';
import { idempotentProcedure } from '../src';
import { sqliteIdempotencyStore } from '../src/sqlite';
const t = initTRPC.create();
const db = drizzle(new Database(':memory:'));
const idempotent = idempotentProcedure({
  procedure: t.procedure,
  store: sqliteIdempotencyStore({ db }),
  scope: () => 's',
});
`;

snippets.set(
  'asyncCommit',
  `${router}
export const pay = idempotent.input(z.object({ n: z.number() })).mutation(({ ctx }) =>
  ctx.idempotency.commit(async () => 1),
);
`,
);
snippets.set(
  'linkWithoutRouter',
  `${router}
import { idempotencyLink } from '../src/client';
export const appRouter = t.router({
  orders: t.router({ place: idempotent.mutation(() => 1) }),
});
export const link = idempotencyLink({ procedures: { 'orders.plac': true } });
export const typed = idempotencyLink<typeof appRouter>({ procedures: { 'orders.plac': true } });
`,
);
snippets.set(
  'keylessMutate',
  `${router}
import { QueryClient, useMutation } from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { idempotentMutationOptions } from '../src/react-query';
const appRouter = t.router({ pay: idempotent.input(z.object({ amount: z.number() })).mutation(() => 1) });
const trpc = createTRPCOptionsProxy<typeof appRouter>({
  client: createTRPCClient<typeof appRouter>({ links: [httpLink({ url: 'http://x' })] }),
  queryClient: new QueryClient(),
});
export function usePay() {
  const pay = useMutation(idempotentMutationOptions(trpc.pay.mutationOptions()));
  pay.mutate({ amount: 1 });
}
`,
);

describe('type errors that say what is wrong', () => {
  it('an async commit callback on better-sqlite3 names the synchronous transaction', {
    timeout: 60_000,
  }, () => {
    const errors = typeErrors('asyncCommit');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(
      'commit() runs a synchronous SQLite transaction: its callback must not be async — do the async work before calling commit()',
    );
    expect(errors[0]).not.toMatch(/Expected \d arguments/);
  });

  it('a link declared apart without <AppRouter> says it needs the router type', {
    timeout: 60_000,
  }, () => {
    const errors = typeErrors('linkWithoutRouter');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain(
      'idempotencyLink needs your router type to check these paths: write idempotencyLink<AppRouter>',
    );
    expect(errors[1]).toContain("'orders.plac'");
  });

  it('a keyless mutate through idempotentMutationOptions names the missing idempotencyKey', {
    timeout: 60_000,
  }, () => {
    const errors = typeErrors('keylessMutate');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/Property 'idempotencyKey' is missing/);
  });
});
