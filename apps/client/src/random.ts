/** Seeded random numbers, shared with the server's fault proxy. */
export { randomInt, seededRandom } from '@ledger/server/random';
