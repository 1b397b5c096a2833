// The library's test helpers, one implementation for the workspace (as for MariaDB): the
// round-trip counting TCP proxy and the Hrana (remote libSQL) stand-in; the bench uses both.
export { startHranaServer } from '../../../packages/trpc-idempotency/test/helpers/hranaProcess';
export { startRoundTripCounter } from '../../../packages/trpc-idempotency/test/stores/roundTripCounter';
