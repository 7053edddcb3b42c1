import type { Logger } from 'pino';
import { ConfigError } from './config.ts';

/** The deployables running in this process (usually one; several when one worker of the all-in-one mode hosts them). */
const running: { log: Logger; stop: () => Promise<void>; stopTimeoutMs: number }[] = [];
let stopping = false;

/** SIGTERM/SIGINT: every deployable of the process stops (side by side, each bounded); exit 0 once all have, 1 if one failed or took too long. */
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  void Promise.all(
    running.map(({ log, stop, stopTimeoutMs }) => {
      log.info({ signal }, 'stopping');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          log.error({ stopTimeoutMs }, 'stop took too long; exiting');
          resolve(false);
        }, stopTimeoutMs);
      });
      const stopped = stop().then(
        () => {
          log.info('stopped');
          return true;
        },
        (error: unknown) => {
          log.error({ err: error }, 'stop failed');
          return false;
        },
      );
      return Promise.race([stopped, late]).finally(() => clearTimeout(timer));
    }),
  ).then((outcomes) => process.exit(outcomes.every(Boolean) ? 0 : 1));
}

/**
 * Runs a deployable: `start` returns its `stop`; SIGTERM/SIGINT call it once (bounded by `stopTimeoutMs`)
 * and exit 0, or 1 if stopping failed or took too long. A bad configuration prints every problem and exits 1.
 * Several deployables in one process stop together: the process exits once every one has stopped.
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
  if (running.length === 0) {
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  }
  running.push({ log, stop, stopTimeoutMs });
}
