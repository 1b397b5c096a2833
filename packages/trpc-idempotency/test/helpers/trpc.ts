import { initTRPC } from '@trpc/server';
import {
  type IdempotencyMode,
  type IdempotentProcedureOptions,
  idempotentProcedure,
} from '../../src';
import type { AnyIdempotencyStore } from '../../src/store';

/** The context of the tests' apps: the calling user, whose keys are scoped to them. */
export type UserContext = { user: string };

/** The tests' tRPC instance. */
export const t = initTRPC.context<UserContext>().create();

/** The builder's options other than the base procedure and the scope, which the tests share. */
export type UserIdempotentOptions<
  TStore extends AnyIdempotencyStore,
  TMode extends IdempotencyMode = 'transactional',
> = Omit<
  IdempotentProcedureOptions<typeof t.procedure, UserContext, TStore, TMode>,
  'procedure' | 'scope'
>;

/**
 * `idempotentProcedure` as most tests build it: on `t.procedure`, each user's
 * keys their own. `options` names the store and whatever the test sets.
 */
export function userIdempotent<
  TStore extends AnyIdempotencyStore,
  TMode extends IdempotencyMode = 'transactional',
>(options: UserIdempotentOptions<TStore, TMode>) {
  return idempotentProcedure({
    procedure: t.procedure,
    scope: ({ ctx }) => ctx.user,
    ...options,
  });
}

/** A router of `procedures`, called in process as `user`. */
export function callerOf<TProcedures extends Parameters<typeof t.router>[0]>(
  procedures: TProcedures,
  user = 'u',
) {
  return t.createCallerFactory(t.router(procedures))({ user });
}
