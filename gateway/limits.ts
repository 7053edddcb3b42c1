import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { ErrorCode, httpByCode } from '../schema/errors.ts';
import { graphqlLimitsSchema, type GraphqlLimits } from '../runtime/config.ts';

export type { GraphqlLimits };

export const defaultGraphqlLimits: GraphqlLimits = graphqlLimitsSchema.parse({});

/** The armor's messages, as the limit they name (`Aliases limit of 20 exceeded, found 500.`). */
const LIMIT_MESSAGE = /(Token|Query depth|Aliases|Query Cost) limit of (\d+) exceeded(?:, found (\d+))?/;
const limitNames: Record<string, string> = {
  Token: 'maxTokens',
  'Query depth': 'maxDepth',
  Aliases: 'maxAliases',
  'Query Cost': 'maxCost',
};

/** A refused document's error with our code and the limit it broke (`extensions.limit`, `max`, `found`). */
function withLimitCode(error: GraphQLError): GraphQLError {
  const m = LIMIT_MESSAGE.exec(error.message);
  if (!m) return error;
  const [, kind = '', max, found] = m;
  return new GraphQLError(`${m[0]}: the query asks for more than one request may (limit ${limitNames[kind]})`, {
    extensions: {
      code: ErrorCode.QUERY_LIMIT_EXCEEDED,
      limit: limitNames[kind],
      max: Number(max),
      ...(found ? { found: Number(found) } : {}),
      http: { status: httpByCode.QUERY_LIMIT_EXCEEDED.status },
    },
  });
}

function problem(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] }), {
    status: httpByCode[code].status,
    headers: { 'content-type': 'application/graphql-response+json; charset=utf-8' },
  });
}

/** The gateway's protections: body size first, then the document's tokens, depth, aliases and cost; no field suggestions. */
export function limitPlugins(limits: GraphqlLimits): GatewayPlugin[] {
  const bodyLimit: GatewayPlugin = {
    onRequest({ request, endResponse }) {
      if (request.method !== 'POST') return;
      const length = request.headers.get('content-length');
      if (length === null) {
        // a chunked body could be of any size: the gateway reads only bodies whose size it knows
        endResponse(problem(ErrorCode.BAD_REQUEST, 'send the request with a Content-Length'));
      } else if (Number(length) > limits.maxBodyBytes) {
        endResponse(
          problem(ErrorCode.PAYLOAD_TOO_LARGE, `the body is larger than ${limits.maxBodyBytes} bytes`, {
            limit: 'maxBodyBytes',
            max: limits.maxBodyBytes,
            found: Number(length),
          }),
        );
      }
    },
  };
  const codes: GatewayPlugin = {
    onResultProcess({ result, setResult }) {
      const one = (r: ExecutionResult) =>
        r.errors?.some((e) => LIMIT_MESSAGE.test(e.message)) ? { ...r, errors: r.errors.map((e) => withLimitCode(e as GraphQLError)) } : r;
      if (Array.isArray(result)) setResult(result.map((r) => one(r as ExecutionResult)) as never);
      else if (result && typeof result === 'object' && 'errors' in result) setResult(one(result as ExecutionResult) as never);
    },
  };
  return [
    bodyLimit,
    maxTokensPlugin({ n: limits.maxTokens, exposeLimits: true }) as GatewayPlugin,
    maxDepthPlugin({ n: limits.maxDepth, exposeLimits: true, ignoreIntrospection: true, flattenFragments: true }) as GatewayPlugin,
    maxAliasesPlugin({ n: limits.maxAliases, exposeLimits: true }) as GatewayPlugin,
    costLimitPlugin({ maxCost: limits.maxCost, exposeLimits: true, ignoreIntrospection: true, flattenFragments: true }) as GatewayPlugin,
    blockFieldSuggestionsPlugin() as GatewayPlugin,
    codes,
  ];
}
