/**
 * The one list of error codes infrafed speaks, on every face: NATS (services error headers + JSON body),
 * GraphQL (`extensions.code`) and REST (problem+json `code`, HTTP status from {@link httpStatusByCode}).
 * Codes are public API: add, never rename.
 */
export const ErrorCode = {
  /** The caller's input is invalid; `extensions.problems` lists every problem. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** A message on the wire failed its contract (a component sent something malformed). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No credentials, or credentials that do not verify (bad signature, expired, wrong issuer). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** Authenticated, but the principal may not do this. */
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  /** The thing exists already, or is in a state that forbids the change. */
  CONFLICT: 'CONFLICT',
  /** The same Idempotency-Key was used before with another request body. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** A conditional request (If-Match) named a version that is no longer current: nothing was changed. */
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  /** The operation does not exist on that platform (e.g. networks on OKD). */
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  /** Nobody serves that region/platform right now (NATS "no responders"): known at once. */
  REGION_UNAVAILABLE: 'REGION_UNAVAILABLE',
  /** The region did not answer within its deadline. */
  REGION_TIMEOUT: 'REGION_TIMEOUT',
  /** A vendor API or another component answered with something unusable. */
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  /** A component of infrafed itself is missing (e.g. a subgraph or the controller has no replica). */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** Anything unexpected; details are in the log, never in the response. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const errorCodes = Object.values(ErrorCode) as readonly ErrorCode[];

/** HTTP status of every code; the compiler checks that none is missing. */
export const httpStatusByCode: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 422,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  QUOTA_EXCEEDED: 409,
  PRECONDITION_FAILED: 412,
  NOT_SUPPORTED: 501,
  REGION_UNAVAILABLE: 503,
  REGION_TIMEOUT: 504,
  UPSTREAM_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (errorCodes as readonly string[]).includes(value);
}

/** Codes whose outcome is unknown: the callee may have done the work. Sagas compensate these too. */
export const ambiguousOutcomeCodes: readonly ErrorCode[] = [ErrorCode.REGION_TIMEOUT, ErrorCode.UPSTREAM_ERROR, ErrorCode.INTERNAL];

/** One validation problem: where (a path into the input), what is wrong, and the value found. */
export interface Problem {
  path: string;
  message: string;
  value?: unknown;
}

/**
 * The error every layer throws and every boundary maps: a code from {@link ErrorCode}, a message meant for
 * the caller, and `extensions` (region, problems, figures) that travel with it on every face.
 */
export class InfrafedError extends Error {
  readonly code: ErrorCode;
  readonly extensions: Readonly<Record<string, unknown>>;
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InfrafedError';
    this.code = code;
    this.extensions = extensions;
  }
}

/** The JSON shape an error takes on the wire (NATS reply bodies). */
export interface WireError {
  code: ErrorCode;
  message: string;
  extensions?: Record<string, unknown>;
}
