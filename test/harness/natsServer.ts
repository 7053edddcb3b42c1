import { afterAll, beforeAll } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsServerBinary } from '../../platforms/ensureInstalled.ts';
import { freePort, spawnManaged, type ManagedProcess } from '../../platforms/processes.ts';

export interface TestNatsServer {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** A nats-server of the test's own (JetStream in a temp dir) on a free port. */
export async function startNatsServer(extraArgs: string[] = []): Promise<TestNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'infrafed-nats-'));
  const port = await freePort();
  const process = await spawnManaged({
    name: 'nats-server',
    command: natsServerBinary(),
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...extraArgs],
    readyWhen: /Server is ready/,
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    process,
    async stop() {
      await process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
