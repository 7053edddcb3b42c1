import { z } from 'zod';
import { ErrorCode, InfrafedError, type Problem } from '../../schema/errors.ts';
import { projectIdSchema, type Placement } from '../../schema/model.ts';
import { operationResource, organizationResource, projectResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';

/** What a handler gets: validated path, query and body, and the gateway. */
export interface RouteContext {
  path: Record<string, string>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
  /** The version an `If-Match` named (routes whose ETag is a version): the write is made only if it is still current. */
  ifVersion?: number;
  /** One GraphQL operation against the gateway, with the caller's own headers (Authorization, Idempotency-Key, traceparent). */
  graphql<T>(query: string, variables?: Record<string, unknown>): Promise<GraphqlResult<T>>;
}

export interface GraphqlError {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown> & { code?: string };
}
export interface GraphqlResult<T> {
  data: T | null;
  errors: GraphqlError[];
}

/** How a route answers (the bridge turns it into HTTP). */
export type RouteResult =
  /** `errors`: the partial errors of a read from the regions (named in `incompleteRegions`; no ETag then). */
  | { kind: 'resource'; body: unknown; etag?: unknown; version?: number; errors?: GraphqlError[] }
  | { kind: 'list'; items: unknown[]; errors: GraphqlError[]; sortKey: (item: never) => string }
  | { kind: 'page'; items: unknown[]; nextCursor: string | null; errors: GraphqlError[] }
  | { kind: 'operation'; operation: z.infer<typeof operationResource>; errors: GraphqlError[]; version?: number };

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI template: `/projects/{projectId}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  /** What the operation does, who may call it, what it answers (Markdown: `code`, **bold**). */
  description: string;
  params?: Record<string, z.ZodType>;
  query?: Record<string, z.ZodType>;
  /**
   * The request body: validated together with the path parameters (the GraphQL input they form), so
   * problems are reported where the caller wrote the value; `omit` are the input's fields the path gives.
   */
  body?: {
    schema: z.ZodType;
    omit: string[];
    id: string;
    /** A body a caller could send (checked against `schema` by the tests; shown in the document and the docs page). */
    example: Record<string, unknown>;
  };
  /**
   * Problems of the body that only the configured placements show (a platform a region does not run, a
   * placement twice), reported with the schema's: locations start with `body`.
   */
  known?(body: Record<string, unknown>, placements: readonly Placement[]): Problem[];
  /** The success response's body. */
  response: z.ZodType;
  /** `operation`: 201/202 with Location; `list`: paginated with Link; `resource`: 200 (with ETag when `etag`). */
  shape: 'resource' | 'list' | 'operation';
  etag?: boolean;
  /** A read from the regions: the answer names those that did not answer (`incompleteRegions`). */
  partial?: boolean;
  /**
   * If-Match takes the version tag of this route's GET twin: the controller compares and advances it in the
   * same step as it accepts the write (`ctx.ifVersion`), never the bridge by reading first.
   */
  ifMatch?: { version: true };
  /** A `resource` that a POST made: 201 with `Location` (`location`: the template the document shows). */
  created?: { location: string; of(body: unknown): string };
  handle(ctx: RouteContext): Promise<RouteResult>;
}

export const OPERATION = selectionOf(operationResource);
export const PROJECT = selectionOf(projectResource);
export const ORGANIZATION = selectionOf(organizationResource);

/** The data of a GraphQL answer, or its (first) error when there is none. */
export function dataOf<T>(result: GraphqlResult<T>): T {
  if (result.data !== null && result.data !== undefined) {
    const values = Object.values(result.data as Record<string, unknown>);
    if (values.every((v) => v !== null)) return result.data;
  }
  const first = result.errors[0];
  if (first) throw fromGraphqlError(first);
  throw new InfrafedError(ErrorCode.NOT_FOUND, 'not found');
}

/** A GraphQL error as the error every face speaks (the code and its extensions travel on). */
/** Extensions that name the system's insides (the gateway's subgraph name, HTTP details, stack traces): never in a problem. */
const INTERNAL_EXTENSIONS = ['serviceName', 'subgraph', 'http', 'stacktrace', 'exception', 'originalError'];

export function fromGraphqlError(error: GraphqlError): InfrafedError {
  const { code, ...all } = error.extensions ?? {};
  const extensions = Object.fromEntries(Object.entries(all).filter(([k]) => !INTERNAL_EXTENSIONS.includes(k)));
  const known = typeof code === 'string' && (Object.values(ErrorCode) as string[]).includes(code);
  return new InfrafedError(known ? (code as ErrorCode) : ErrorCode.UPSTREAM_ERROR, error.message, extensions);
}

export function notFound(what: string): InfrafedError {
  return new InfrafedError(ErrorCode.NOT_FOUND, `${what} not found`);
}

export async function projectWith<T>(ctx: RouteContext, fields: string): Promise<{ project: T; errors: GraphqlError[] }> {
  const result = await ctx.graphql<{ project: T | null }>(`query($id: ID!) { project(id: $id) ${fields} }`, { id: ctx.path.projectId });
  const project = dataOf(result).project;
  if (!project) throw notFound(`project ${ctx.path.projectId}`);
  return { project, errors: result.errors };
}

export function operation(name: string) {
  return async (ctx: RouteContext, query: string, variables: Record<string, unknown>): Promise<RouteResult> => {
    const result = await ctx.graphql<Record<string, z.infer<typeof operationResource>>>(query, variables);
    const op = dataOf(result)[name] as z.infer<typeof operationResource>;
    return { kind: 'operation', operation: op, errors: result.errors };
  };
}

export const projectId = { projectId: projectIdSchema };
export const limitQuery = { limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() };
