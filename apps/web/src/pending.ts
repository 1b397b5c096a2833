import { createContext } from 'react';
import type { PendingOperations } from 'trpc-idempotency/react-query';

/** The page's pending operations, for the rows that let the user discard a waiting one. */
export const PendingContext = createContext<PendingOperations | undefined>(undefined);
