// trpc.ts: tRPC's TanStack Query integration, for the Quickstart's router
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '../quickstart/router.js';

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
