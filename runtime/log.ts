import { isMainThread } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import { currentContext } from './context.ts';

/** Paths pino blanks out wherever they appear: a token or password never reaches a log line. */
export const redactPaths = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'secret',
  '*.secret',
  '*.hs256Secret',
  '*.*.hs256Secret',
];

/**
 * JSON logs on stdout (level from LOG_LEVEL, default info), one logger per deployable. Every line written
 * while a request is handled carries its trace id, organisation and operation id (runtime/context.ts), so
 * one request can be followed across every hop.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      mixin() {
        const c = currentContext();
        if (!c) return {};
        return {
          ...(c.traceId ? { traceId: c.traceId } : {}),
          ...(c.organization ? { organization: c.organization } : {}),
          ...(c.operationId ? { operationId: c.operationId } : {}),
        };
      },
    },
    // in a worker thread (the all-in-one mode) each line is written at once: a worker's exit drops what an
    // asynchronous destination still holds, so its last lines ("stopped") would be lost
    isMainThread ? undefined : pino.destination({ dest: 1, sync: true }),
  );
}

export type { Logger };
