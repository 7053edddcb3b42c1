import { afterAll, beforeAll } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type TestNatsServer } from './natsProcess.ts';

export { startNatsServer, type TestNatsServer };

/**
 * A nats-server of the suite's own with one connection to it, started before the suite's tests and
 * stopped after them (jest's beforeAll/afterAll): `nc` and `url` are there once the tests run.
 */
export function natsForSuite(): { readonly nc: NatsConnection; readonly url: string } {
  let server: TestNatsServer | undefined;
  let connection: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
    connection = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.stop();
  });
  return {
    get nc() {
      if (!connection) throw new Error('natsForSuite: the suite has not started yet');
      return connection;
    },
    get url() {
      if (!server) throw new Error('natsForSuite: the suite has not started yet');
      return server.url;
    },
  };
}
