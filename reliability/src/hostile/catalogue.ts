/**
 * The catalogue of hostile requests to the example server: each with the
 * answer the documentation promises (SPEC sections 1.3, 2.3, 8 and 9, the
 * server's README error table, tRPC's HTTP mapping) and the change it may
 * make to the idempotency records (most make none), by category.
 */
import { identityCases } from './identityCases';
import { inputCases } from './inputCases';
import { keyCases } from './keyCases';
import { reuseCases } from './reuseCases';
import { transportCases } from './transportCases';
import type { HostileCase } from './types';

export type { HostileCase, HostileFixture, HostileRequest } from './types';

/** Every case, in the order they run. */
export const hostileCatalogue: readonly HostileCase[] = [
  ...keyCases,
  ...inputCases,
  ...identityCases,
  ...transportCases,
  ...reuseCases,
];
