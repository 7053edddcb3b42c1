import type { OpenAPIObject } from 'openapi3-ts/oas31';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Keywords whose value is one schema, and those whose value is a list or a map of schemas. */
const ONE = ['items', 'not', 'additionalProperties'];
const LIST = ['anyOf', 'oneOf', 'allOf'];
const MAP = ['properties'];

/**
 * A JSON Schema 2020-12 schema as an OpenAPI 3.0 Schema Object: `type: [T, "null"]` and an `anyOf` with
 * `{ type: "null" }` become `nullable`, `const` an one-value `enum`, numeric `exclusiveMinimum`/`Maximum`
 * their 3.0 boolean forms, `examples` one `example`; what 3.0 cannot say (`propertyNames`) is left out.
 */
export function schema30(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ONE.includes(key)) out[key] = isObject(value) ? schema30(value) : value;
    else if (LIST.includes(key)) out[key] = (value as unknown[]).map(schema30);
    else if (MAP.includes(key)) out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, schema30(v)]));
    else if (key === 'propertyNames' || key === '$schema' || key === '$id') continue;
    else if (key === 'const') out.enum = [value];
    else if (key === 'examples') out.example = (value as unknown[])[0];
    else out[key] = value;
  }
  // 3.0 wants at least one name in `required`
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  if (Array.isArray(out.type)) {
    const types = (out.type as string[]).filter((t) => t !== 'null');
    if (types.length < (out.type as string[]).length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else {
      delete out.type;
      out.anyOf = types.map((type) => ({ type }));
    }
  }
  for (const [bound, exclusive] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (typeof out[exclusive] === 'number') {
      out[bound] = out[exclusive];
      out[exclusive] = true;
    }
  }
  if (Array.isArray(out.anyOf)) {
    const options = out.anyOf as Json[];
    const rest = options.filter((o) => !(isObject(o) && o.type === 'null' && Object.keys(o).length === 1));
    if (rest.length < options.length) {
      out.nullable = true;
      if (rest.length === 1) {
        delete out.anyOf;
        const only = rest[0] as Json;
        // a reference cannot carry `nullable` beside it in 3.0: wrap it
        if ('$ref' in only) out.allOf = [only];
        else Object.assign(out, only);
      } else out.anyOf = rest;
    }
  }
  return out;
}

/** Every schema of a document (components, parameters, bodies, responses, headers) through `convert`. */
function mapSchemas(doc: Json, convert: (s: unknown) => unknown): void {
  const components = doc.components as Json | undefined;
  if (components?.schemas)
    components.schemas = Object.fromEntries(Object.entries(components.schemas as Json).map(([k, v]) => [k, convert(v)]));
  const withSchema = (holder: unknown) => {
    if (isObject(holder) && 'schema' in holder) holder.schema = convert(holder.schema);
  };
  const content = (c: unknown) => {
    if (isObject(c)) for (const media of Object.values(c)) withSchema(media);
  };
  for (const item of Object.values((doc.paths ?? {}) as Json)) {
    for (const op of Object.values(item as Json)) {
      if (!isObject(op)) continue;
      for (const p of (op.parameters ?? []) as unknown[]) withSchema(p);
      if (isObject(op.requestBody)) content(op.requestBody.content);
      for (const response of Object.values((op.responses ?? {}) as Json)) {
        if (!isObject(response)) continue;
        content(response.content);
        for (const h of Object.values((response.headers ?? {}) as Json)) withSchema(h);
      }
    }
  }
}

/**
 * The OpenAPI 3.0.3 twin of the 3.1 document (`/openapi-3.0.json`), for the code generators that do not
 * read 3.1 yet: the same paths, operations and schemas, said in 3.0's dialect.
 */
export function toOpenApi30(document: OpenAPIObject): Json {
  const doc = structuredClone(document) as unknown as Json;
  doc.openapi = '3.0.3';
  const info = doc.info as Json;
  delete info.summary;
  // 3.0 names a license by URL (3.1: by SPDX id, UNLICENSED): the docs page says what it means
  if (isObject(info.license)) {
    delete info.license.identifier;
    info.license.url = '/docs#license';
  }
  delete doc.webhooks;
  delete doc.jsonSchemaDialect;
  mapSchemas(doc, schema30);
  // 3.0 wants `type` beside `nullable`: a wrapped reference takes its target's
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Json;
  const typed = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(typed);
    if (!isObject(node)) return;
    if (node.nullable === true && node.type === undefined && Array.isArray(node.allOf) && node.allOf.length === 1) {
      const ref = (node.allOf[0] as Json).$ref;
      const target = typeof ref === 'string' ? schemas[ref.replace('#/components/schemas/', '')] : undefined;
      if (isObject(target) && typeof target.type === 'string') node.type = target.type;
    }
    Object.values(node).forEach(typed);
  };
  typed(doc);
  return doc;
}
