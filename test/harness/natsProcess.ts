import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsServerBinary } from '../../platforms/ensureInstalled.ts';
import { freePort, spawnManaged, type ManagedProcess } from '../../platforms/processes.ts';

// Without jest: the benches start their own nats-server with it too (test/harness/natsServer.ts adds the
// suite helper, which needs jest's globals).

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
