import type { TransferRequest } from '@ledger/server';

/** Messages between the benchmark and its HTTP server process (Node IPC). */
export type ServerMessage =
  | { type: 'ready'; port: number; request: TransferRequest }
  | {
      type: 'counts';
      transfers: number;
      records: number;
      /** The server process's CPU time so far (user and system), in µs. */
      cpuUs: number;
    };

export type ClientMessage = { type: 'count' } | { type: 'close' };
