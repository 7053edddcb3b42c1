import { pino, type Logger } from 'pino';

/** Paths pino blanks out wherever they appear: a token or password never reaches a log line. */
export const redactPaths = [
  'password', '*.password', '*.*.password',
  'token', '*.token', 'authorization', '*.authorization', '*.headers.authorization', '*.headers.Authorization',
  'secret', '*.secret', '*.hs256Secret', '*.*.hs256Secret',
];

/** JSON logs on stdout (level from LOG_LEVEL, default info), one logger per deployable. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, redact: { paths: redactPaths, censor: '[redacted]' } });
}

export type { Logger };
