import {
  OpenApiBuilder,
  type OpenAPIObject,
  type OperationObject,
  type ParameterObject,
  type ResponseObject,
  type SchemaObject,
} from 'openapi3-ts/oas31';
import { z } from 'zod';
import { regionNameSchema, type Placement } from '../schema/model.ts';
import { idempotencyKeySchema } from '../schema/operations.ts';
import { problemResource } from '../schema/rest.ts';
import type { Route } from './routes/index.ts';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

type Override = NonNullable<Parameters<typeof z.toJSONSchema>[1]>['override'];

/**
 * What the document says beyond the zod schemas: region fields list the configured regions, and request
 * objects refuse unknown fields (the bridge refuses them).
 */
const override =
  (io: 'input' | 'output', regions: readonly string[]): Override =>
  (ctx) => {
    const json = ctx.jsonSchema as Record<string, unknown>;
    if ((ctx.zodSchema as unknown) === regionNameSchema && regions.length > 0) json.enum = [...regions];
    const def = (ctx.zodSchema as unknown as { _zod: { def: { type: string; catchall?: unknown } } })._zod.def;
    if (io === 'input' && def.type === 'object' && def.catchall === undefined) json.additionalProperties = false;
  };

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema; named resources become references. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output', regions: readonly string[] = []): SchemaObject {
  const id = z.globalRegistry.get(schema)?.id;
  if (id && io === 'output') return ref(id);
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', override: override(io, regions) }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  delete json.$id;
  return json as SchemaObject;
}

/** The request body of a route: its GraphQL input without the fields the path gives. */
function bodySchemaOf(body: NonNullable<Route['body']>, regions: readonly string[]): SchemaObject {
  const json = schemaOf(body.schema, 'input', regions) as SchemaObject & { properties?: Record<string, unknown>; required?: string[] };
  for (const key of body.omit) delete json.properties?.[key];
  if (json.required) json.required = json.required.filter((k) => !body.omit.includes(k));
  return json;
}

const problem = (description: string): ResponseObject => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const header = (description: string, required = true) => ({ description, required, schema: { type: 'string' as const } });
/** RFC 9211: what the gateway's response cache did for each read the answer was made of. */
const cacheStatusHeader = header(
  'What the gateway’s response cache did for each GraphQL read of this answer (RFC 9211), e.g. `infrafed; hit; ttl=3` or `infrafed; fwd=miss; stored`',
  false,
);

/**
 * The OpenAPI 3.1 document of the bridge, generated from its route table and the zod schemas the routes
 * validate with and answer in: nothing here is written by hand twice.
 */
export function openApiDocument(routes: readonly Route[], version: string, placements: readonly Placement[] = []): OpenAPIObject {
  const regions = [...new Set(placements.map((p) => p.region))];
  const builder = OpenApiBuilder.create({
    openapi: '3.1.0',
    info: {
      title: 'infrafed REST API',
      version,
      description: [
        'Self-service provisioning across regions and platforms (OpenStack, OKD). Each operation here is one',
        'GraphQL operation against the infrafed gateway; the bearer token is passed through as it is.',
        '',
        'Writes that change platforms are **operations**: `201 Created` (a POST) or `200 OK` (a change or delete)',
        'when the operation finished within the wait bound, `202 Accepted` while it still runs (at once with',
        '`Prefer: respond-async`); all with `Location: /operations/{id}`. Send an',
        '`Idempotency-Key` (1-200 characters) with every write: the same key and body give the same operation (keys are kept 48 hours),',
        'the same key with another body is refused (422, `IDEMPOTENCY_KEY_REUSED`).',
        '',
        'Errors are RFC 9457 problem details (`application/problem+json`) with infrafed’s error `code`; invalid',
        'input is 422 with every problem at once (`problems[].location`, e.g. `body.placements[0].region`).',
        'Lists are paginated (`limit`, `cursor`; `Link: <…>; rel="next"`); regions that did not answer are listed',
        'in `incompleteRegions` next to what the others answered. A read may be given again to the same caller for a few',
        'seconds, never after a write through infrafed; `Cache-Control: no-cache` asks for one read now.',
      ].join('\n'),
      license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
    },
    paths: {},
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    security: [{ bearer: [] }],
  });
  builder.addServer({ url: '/', description: 'this bridge' });

  const named = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    override: override('output', regions),
  }) as {
    schemas: Record<string, Record<string, unknown>>;
  };
  for (const [id, schema] of Object.entries(named.schemas).sort(([a], [b]) => a.localeCompare(b))) {
    delete schema.$schema;
    delete schema.$id;
    builder.addSchema(id, schema as SchemaObject);
  }
  if (!named.schemas.Problem) builder.addSchema('Problem', schemaOf(problemResource, 'input'));

  const tags = new Set<string>();
  for (const route of routes) {
    tags.add(route.tag);
    const parameters: ParameterObject[] = [];
    for (const [name, schema] of Object.entries(route.params ?? {}))
      parameters.push({ name, in: 'path', required: true, schema: schemaOf(schema, 'input', regions) });
    for (const [name, schema] of Object.entries(route.query ?? {})) {
      const json = schemaOf(schema, 'input', regions);
      parameters.push({
        name,
        in: 'query',
        required: !schema.safeParse(undefined).success,
        schema: json,
        ...(json.description ? { description: json.description } : {}),
      });
    }
    if (route.method !== 'get') {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'The same key and body return the same result; another body with it is refused (422).',
        schema: schemaOf(idempotencyKeySchema, 'input'),
      });
    }
    if (route.shape === 'operation') {
      parameters.push({
        name: 'Prefer',
        in: 'header',
        required: false,
        description: '`respond-async`: answer at once (202) while the operation runs.',
        schema: { type: 'string' },
      });
    }
    if (route.ifMatch)
      parameters.push({
        name: 'If-Match',
        in: 'header',
        required: false,
        description: 'The ETag you read; a stale one gets 412 and changes nothing.',
        schema: { type: 'string' },
      });
    if (route.method === 'get')
      parameters.push({
        name: 'Cache-Control',
        in: 'header',
        required: false,
        description:
          '`no-cache`: an answer read now. Without it, the gateway may give your same read again for a few seconds (never after a write through infrafed).',
        schema: { type: 'string' },
      });
    if (route.etag && route.method === 'get')
      parameters.push({
        name: 'If-None-Match',
        in: 'header',
        required: false,
        description: 'The ETag you hold: 304 when it is still current.',
        schema: { type: 'string' },
      });

    const json = (description: string, headers: Record<string, ReturnType<typeof header>> = {}): ResponseObject => ({
      description,
      headers,
      content: { 'application/json': { schema: schemaOf(route.response, 'output') } },
    });
    const responses: Record<string, ResponseObject> = {};
    if (route.shape === 'operation') {
      if (route.method === 'post')
        responses['201'] = json('The operation finished within the wait bound', { Location: header('/operations/{id}') });
      else responses['200'] = json('The operation finished within the wait bound', { Location: header('/operations/{id}') });
      responses['202'] = json('The operation runs on; follow Location', { Location: header('/operations/{id}') });
    } else if (route.shape === 'list') {
      responses['200'] = json('A page of the list', {
        Link: header('`<…?cursor=…>; rel="next"` when there is a next page', false),
        'Cache-Status': cacheStatusHeader,
      });
    } else if (route.created) {
      responses['201'] = json('Created', { Location: header(route.created.location) });
    } else {
      responses['200'] = json('The resource', {
        ...(route.method === 'get' ? { 'Cache-Status': cacheStatusHeader } : {}),
        ...(route.etag
          ? {
              ETag: header(
                route.partial
                  ? 'Tag of this representation, for If-Match / If-None-Match; absent when a region did not answer'
                  : 'Tag of this representation, for If-Match / If-None-Match',
                !route.partial,
              ),
            }
          : {}),
      });
    }
    if (route.etag && route.method === 'get')
      responses['304'] = { description: 'Not modified (If-None-Match matched)', headers: { ETag: header('The current tag') } };
    responses['400'] = problem(
      route.body ? 'The body is not JSON, or the path has a malformed %-escape' : 'The path has a malformed %-escape',
    );
    responses['401'] = { ...problem('No token, or one that does not verify'), headers: { 'WWW-Authenticate': header('Bearer') } };
    responses['403'] = problem('The token’s role (or the partner level) does not allow this; `permission` names what is missing');
    responses['404'] = problem('Not found (or not visible to the caller’s organisation)');
    if (route.method !== 'get')
      responses['409'] = problem('Conflict (e.g. the name is taken) or QUOTA_EXCEEDED with `resource`, `limit`, `used`, `requested`');
    if (route.ifMatch) responses['412'] = problem('If-Match did not match the current ETag: nothing was changed');
    if (route.body) {
      responses['413'] = problem('The body is larger than 1 MiB (PAYLOAD_TOO_LARGE)');
      responses['415'] = problem('The body is not application/json');
    }
    responses['422'] = problem('Invalid input: every problem (path, query, headers, body) with its location and value');
    if (route.method !== 'get')
      responses['501'] = problem(
        "A placement's platform cannot do this (NOT_SUPPORTED, with `region` and `platform`): e.g. volume quotas on OpenStack without Cinder, ICMP rules on OKD",
      );
    responses['502'] = problem('A platform answered with an error (UPSTREAM_ERROR)');
    responses['503'] = problem('A region, the gateway or the controller is not reachable (REGION_UNAVAILABLE, SERVICE_UNAVAILABLE)');
    responses['504'] = problem('A region did not answer in time (REGION_TIMEOUT)');
    responses.default = problem('An unexpected error (500)');

    const operation: OperationObject = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      parameters,
      responses,
      ...(route.description ? { description: route.description } : {}),
    };
    if (route.body) {
      builder.addSchema(route.body.id, bodySchemaOf(route.body, regions));
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: ref(route.body.id), example: route.body.example } },
      };
    }
    const path = builder.rootDoc.paths?.[route.path] ?? {};
    builder.addPath(route.path, { ...path, [route.method]: operation });
  }
  for (const tag of tags) builder.addTag({ name: tag, description: `Operations on ${tag}` });
  return builder.getSpec();
}
