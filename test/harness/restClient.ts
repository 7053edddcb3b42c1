import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { OpenAPIObject, OperationObject, ResponseObject } from 'openapi3-ts/oas31';

export interface RestResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * A REST client that checks every response against the OpenAPI document the bridge serves: the status is
 * one the operation documents (only a 500 may fall to its `default`), the documented required headers are there, and the body
 * validates against the documented schema of its content type (JSON Schema 2020-12, Ajv), and a problem
 * names no internal component.
 */
export function restClient(baseUrl: () => string, document: () => OpenAPIObject, document30?: () => Record<string, unknown>) {
  // one validator per document: JSON Schema 2020-12 for 3.1, draft-07 (with `nullable`) for 3.0
  const validators = new Map<string, Ajv2020 | Ajv>();
  let validated = 0;
  let calls = 0;

  function check(method: string, path: string, res: RestResponse<unknown>, contentType: string): void {
    checkAgainst(document(), '3.1', method, path, res, contentType);
    if (document30) checkAgainst(document30() as unknown as OpenAPIObject, '3.0', method, path, res, contentType);
    validated++;
  }

  function checkAgainst(
    doc: OpenAPIObject,
    version: string,
    method: string,
    path: string,
    res: RestResponse<unknown>,
    contentType: string,
  ) {
    let ajv = validators.get(version);
    if (!ajv) {
      // the document is not a schema itself (its securitySchemes have `type: http`): only the schemas in it are compiled
      const options = { strict: false, allErrors: true, validateFormats: false, validateSchema: false } as const;
      ajv = version === '3.1' ? new Ajv2020(options) : new Ajv(options);
      ajv.addSchema(doc as object, 'openapi.json');
      validators.set(version, ajv);
    }
    const templates = Object.keys(doc.paths ?? {}).map((t) => ({
      template: t,
      pattern: new RegExp(`^${t.replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
    const where = `${method.toUpperCase()} ${path} → ${res.status} (OpenAPI ${version})`;
    const found = templates.find((t) => t.pattern.test(path.split('?')[0] as string));
    if (!found) throw new Error(`${where}: no path of the document matches`);
    const op = (doc.paths?.[found.template] as Record<string, OperationObject | undefined>)[method];
    if (!op) throw new Error(`${where}: the document has no ${method} on ${found.template}`);
    // every status a route can answer is in the document; only the unexpected 500 falls to `default`
    const response = (op.responses?.[String(res.status)] ?? (res.status === 500 ? op.responses?.default : undefined)) as
      ResponseObject | undefined;
    if (!response) throw new Error(`${where}: status not documented (documented: ${Object.keys(op.responses ?? {}).join(', ')})`);
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      if ((h as { required?: boolean }).required && !res.headers.has(name))
        throw new Error(`${where}: documented header ${name} is missing`);
    }
    if (res.status === 304 || res.status === 204) return;
    const media = contentType.split(';')[0]?.trim() ?? '';
    const schema = response.content?.[media]?.schema as { $ref?: string } | undefined;
    if (!schema)
      throw new Error(`${where}: content type ${media} not documented (documented: ${Object.keys(response.content ?? {}).join(', ')})`);
    const validate = schema.$ref ? ajv.getSchema(`openapi.json${schema.$ref}`) : ajv.compile(schema);
    if (!validate) throw new Error(`${where}: cannot resolve ${schema.$ref}`);
    if (!validate(res.body))
      throw new Error(
        `${where}: body does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body).slice(0, 800)}`,
      );
    // a problem names what the caller can act on, never the system's insides (the gateway's subgraph names)
    if (media === 'application/problem+json' && /"(serviceName|subgraph|stacktrace|exception)"/.test(JSON.stringify(res.body)))
      throw new Error(`${where}: the problem names internal components: ${JSON.stringify(res.body).slice(0, 800)}`);
  }

  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {},
  ): Promise<RestResponse<T>> {
    calls++;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl()}${path}`, {
      method: method.toUpperCase(),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    const body = (text ? JSON.parse(text) : null) as T;
    const out = { status: res.status, headers: res.headers, body };
    check(method.toLowerCase(), path, out, res.headers.get('content-type') ?? '');
    return out;
  }
  /** How many calls were made, and how many of their responses matched the document (a mismatch throws). */
  return { call, counts: () => ({ calls, validated }) };
}
