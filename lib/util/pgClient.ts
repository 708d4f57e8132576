import pg from 'pg';

/**
 * A pg client whose connection errors reach only the call being awaited. pg also emits a dropped
 * connection's error as an 'error' event (a copy stopped while we poll it, a server restart), and an
 * event nobody listens to ends the process.
 */
export function newClient(config: pg.ClientConfig): pg.Client {
  const client = new pg.Client(config);
  client.on('error', () => {});
  return client;
}

/** Connects, runs the work, and always closes the connection. */
export async function withClient<T>(config: pg.ClientConfig, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = newClient(config);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}
