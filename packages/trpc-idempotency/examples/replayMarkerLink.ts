// A link that tells which responses were replays (put it between idempotencyLink and the HTTP link)
import type { TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { tap } from '@trpc/server/observable';

export function replayMarkerLink<TRouter extends AnyTRPCRouter>(
  onReplay: (path: string) => void,
): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) =>
      next(op).pipe(
        tap({
          next: ({ context }) => {
            const response = context?.response as Response | undefined; // set by the HTTP links
            if (response?.headers.get('idempotent-replayed') === 'true') onReplay(op.path);
          },
        }),
      );
}
