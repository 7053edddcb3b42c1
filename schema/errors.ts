/**
 * The one list of error codes infrafed speaks, on every face: NATS (services error headers + JSON body),
 * GraphQL (`extensions.code`) and REST (problem+json `code`, HTTP status from {@link httpStatusByCode}).
 * Codes are public API: add, never rename.
 */
export const ErrorCode = {
  /** The caller's input is invalid; `extensions.problems` lists every problem. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /**
   * A message on the wire failed its contract (a component sent something malformed), or an HTTP request
   * that cannot be read (a body that is not JSON, a malformed `%` escape in the path).
   */
  BAD_REQUEST: 'BAD_REQUEST',
  /** HTTP: the resource exists but not with that method (the `Allow` header lists those it has). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** HTTP: the request body is larger than the face accepts. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** HTTP: the request body is not in a media type the face reads (JSON). */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /**
   * A GraphQL document beyond one of the gateway's limits (`extensions.limit`: maxDepth, maxAliases,
   * maxTokens, maxCost; `max`, `found`), or a page asking for more than a field reads at once
   * (maxQuotaProjects: quotas of at most 100 projects per region).
   */
  QUERY_LIMIT_EXCEEDED: 'QUERY_LIMIT_EXCEEDED',
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
  /**
   * An operation outlived what it held against the entitlements (its reservation expired, or could not be
   * renewed, before it was committed): the operation was undone rather than spend what was no longer held.
   */
  RESERVATION_EXPIRED: 'RESERVATION_EXPIRED',
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

/** HTTP status and RFC 9457 title of every code; the compiler checks that none is missing. */
export const httpByCode: Record<ErrorCode, { status: number; title: string }> = {
  BAD_USER_INPUT: { status: 422, title: 'Unprocessable Content' },
  BAD_REQUEST: { status: 400, title: 'Bad Request' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Content Too Large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type' },
  QUERY_LIMIT_EXCEEDED: { status: 400, title: 'Bad Request' },
  UNAUTHENTICATED: { status: 401, title: 'Unauthorized' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  NOT_FOUND: { status: 404, title: 'Not Found' },
  CONFLICT: { status: 409, title: 'Conflict' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Unprocessable Content' },
  QUOTA_EXCEEDED: { status: 409, title: 'Conflict' },
  RESERVATION_EXPIRED: { status: 409, title: 'Conflict' },
  PRECONDITION_FAILED: { status: 412, title: 'Precondition Failed' },
  NOT_SUPPORTED: { status: 501, title: 'Not Implemented' },
  REGION_UNAVAILABLE: { status: 503, title: 'Service Unavailable' },
  REGION_TIMEOUT: { status: 504, title: 'Gateway Timeout' },
  UPSTREAM_ERROR: { status: 502, title: 'Bad Gateway' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service Unavailable' },
  INTERNAL: { status: 500, title: 'Internal Server Error' },
};

/** HTTP status of every code (from {@link httpByCode}). */
export const httpStatusByCode = Object.fromEntries(Object.entries(httpByCode).map(([code, h]) => [code, h.status])) as Record<
  ErrorCode,
  number
>;

/**
 * The extensions of an error that its caller may see: where it happened and the figures or problems it
 * needs to act. Vendor request details (method, path, vendor status and reason, causes) stay in the logs.
 */
export const publicExtensionKeys = [
  'region',
  'platform',
  'projectId',
  'resource',
  'resources',
  'limit',
  'max',
  'found',
  'used',
  'requested',
  'scope',
  'problems',
  'permission',
  'role',
  'shareLevel',
  'operationId',
  'name',
  'traceId',
  /** An invitation's state when it can no longer be answered (accepted, declined, cancelled, expired). */
  'invitationStatus',
  /** The organisations a principal of several may sign in to. */
  'organizations',
] as const;

/** Only the {@link publicExtensionKeys} of an error's extensions. */
export function publicExtensions(extensions: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of publicExtensionKeys) if (extensions?.[key] !== undefined) out[key] = extensions[key];
  return out;
}

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
  /** Where in a file (resources as code): 1-based document, line and column. */
  document?: number;
  line?: number;
  column?: number;
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
