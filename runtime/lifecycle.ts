import type { Logger } from 'pino';
import { ConfigError } from './config.ts';

/**
 * Runs a deployable: `start` returns its `stop`; SIGTERM/SIGINT call it once (bounded by `stopTimeoutMs`)
 * and exit 0, or 1 if stopping failed or took too long. A bad configuration prints every problem and exits 1.
 */
export async function runMain(log: Logger, start: () => Promise<() => Promise<void>>, stopTimeoutMs = 10_000): Promise<void> {
  let stop: () => Promise<void>;
  try {
    stop = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      log.fatal({ err: error }, 'failed to start');
    }
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      log.error({ stopTimeoutMs }, 'stop took too long; exiting');
      process.exit(1);
    }, stopTimeoutMs);
    timer.unref();
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
