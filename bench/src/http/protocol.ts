/** Messages between the benchmark and its HTTP server process (Node IPC). */
export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'counts'; transfers: number; completedRecords: number };

export type ClientMessage = { type: 'count' } | { type: 'close' };
