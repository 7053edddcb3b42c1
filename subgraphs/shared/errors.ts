import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { ErrorCode, InfrafedError, isErrorCode, publicExtensions } from '../../schema/errors.ts';
import { currentContext } from '../../runtime/context.ts';
import type { Logger } from '../../runtime/log.ts';

/** Codes that GraphQL servers produce themselves and that pass through unchanged. */
const graphqlCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

/** What a read says of a region whose vendor failed; the vendor's own words stay in the log, under the trace id. */
const vendorFailure: Partial<Record<ErrorCode, string>> = {
  REGION_UNAVAILABLE: 'is unavailable',
  REGION_TIMEOUT: 'did not answer in time',
  UPSTREAM_ERROR: 'answered with an error',
};

/** An error's message as its caller sees it: a vendor's failure is named by code and region only. */
export function publicMessage(error: InfrafedError): string {
  const neutral = vendorFailure[error.code];
  if (!neutral) return error.message;
  const region = error.extensions.region;
  return `${region ? `region ${String(region)} (${String(error.extensions.platform)})` : 'a region'} ${neutral}`;
}

/**
 * Apollo Server `formatError`: known codes pass with their extensions; anything else is masked as
 * INTERNAL (logged with its detail). Never throws, never leaks a stack trace.
 */
export function createFormatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof InfrafedError) {
      const vendor = publicMessage(original) !== original.message;
      if (original.code === ErrorCode.INTERNAL) log.error({ err: original }, 'internal error');
      else if (vendor) log.warn({ err: original, extensions: original.extensions }, 'vendor failure');
      // where the detail is only in the log, the caller gets the trace id to ask for it
      const traceId = vendor ? currentContext()?.traceId : undefined;
      return {
        message: publicMessage(original),
        path: formatted.path,
        locations: formatted.locations,
        extensions: { ...publicExtensions(original.extensions), ...(traceId ? { traceId } : {}), code: original.code },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && (isErrorCode(code) || graphqlCodes.has(code))) {
      const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    log.error({ err: original ?? error, message: formatted.message }, 'unexpected error in a resolver');
    return { message: 'internal error', path: formatted.path, locations: formatted.locations, extensions: { code: ErrorCode.INTERNAL } };
  };
}
