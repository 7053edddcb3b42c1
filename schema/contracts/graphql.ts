import { z } from 'zod';
import { Header } from '../subjects.ts';

/** A GraphQL-over-HTTP request carried in a NATS message from the gateway to a subgraph (headers travel as NATS headers). */
export const graphqlRequestSchema = z.object({
  query: z.string().max(100_000),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
  extensions: z.record(z.string(), z.unknown()).nullish(),
});
/** The subgraph's answer: the HTTP status Apollo would have sent, and the body. */
export const graphqlReplySchema = z.object({ status: z.number().int(), body: z.unknown() });

/**
 * The caller's headers that travel with a request, hop by hop: REST bridge → gateway (HTTP), gateway →
 * subgraph (NATS), subgraph → controller (NATS). Every component verifies the token itself; nothing
 * else of the caller's request is passed on. `http` is the HTTP name (lower case), `nats` the NATS one
 * (NATS header names are case-sensitive: these are the canonical ones).
 */
export const callerHeaders = [
  { http: 'authorization', nats: Header.authorization },
  { http: 'idempotency-key', nats: Header.idempotencyKey },
  { http: 'prefer', nats: Header.prefer },
  { http: 'traceparent', nats: Header.traceparent },
] as const;

/**
 * The HTTP header in which a principal of several organisations names the one it signs in to (with an
 * identity provider's token): read by the gateway at sign-in, passed on by the REST bridge, never further.
 */
export const SIGN_IN_ORGANIZATION_HEADER = 'infrafed-organization';
