import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a Postgres server that counts round trips, whatever
 * the driver: a round trip starts each time a client sends after the server
 * last spoke (or first), so messages a driver pipelines without waiting for
 * answers count once. `url` is the database URL through the proxy;
 * `await using` closes it.
 */
export async function startRoundTripCounter(databaseUrl: string) {
  const target = new URL(databaseUrl);
  let roundTrips = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    let serverSpokeLast = true;
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (serverSpokeLast) roundTrips++;
      serverSpokeLast = false;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      serverSpokeLast = true;
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('round trip counter: no port');
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    /** Round trips since the last `reset()`. */
    count: () => roundTrips,
    reset: () => {
      roundTrips = 0;
    },
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
