import type {
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  RequestBodyObject,
  ResponseObject,
} from 'openapi3-ts/oas31';
import { ErrorCode, httpStatusByCode } from '../schema/errors.ts';

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const refName = (r: unknown) => ((r as ReferenceObject).$ref ?? '').split('/').at(-1) ?? '';

/** Inline Markdown (`code`, **bold**, [text](link)) of escaped text. */
const inline = (text: string) =>
  escape(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>')
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>');

/** The Markdown the descriptions use: paragraphs, `- ` lists, inline code, bold and links. */
export function markdown(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((block) => {
      const lines = block.split('\n');
      if (lines.every((l) => /^\s*- /.test(l)))
        return `<ul>${lines.map((l) => `<li>${inline(l.replace(/^\s*- /, ''))}</li>`).join('')}</ul>`;
      return `<p>${inline(lines.join(' '))}</p>`;
    })
    .join('');
}

type Schema = Record<string, unknown>;

/** A schema as a short phrase: a link to a named schema, `array of …`, the values of an enumeration, the constraints. */
export function typeOf(schema: unknown): string {
  if (!schema || typeof schema !== 'object') return 'any';
  const s = schema as Schema;
  const name = refName(s);
  if (name) return `<a href="#schema-${name}">${name}</a>`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as unknown[]).map(typeOf).join(' or ');
  if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).map((v) => `<code>${escape(JSON.stringify(v))}</code>`).join(', ')}`;
  const types = (Array.isArray(s.type) ? s.type : [s.type ?? 'object']) as string[];
  const base = types
    .map((t) => {
      if (t === 'array') return `array of ${typeOf(s.items)}`;
      if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties)
        return `map of ${typeOf(s.additionalProperties)}`;
      return t;
    })
    .join(' or ');
  const limits = [
    s.pattern !== undefined ? `pattern <code>${escape(String(s.pattern))}</code>` : '',
    s.minLength !== undefined || s.maxLength !== undefined ? `${s.minLength ?? 0}-${s.maxLength ?? '…'} characters` : '',
    s.minimum !== undefined || s.maximum !== undefined ? `${s.minimum ?? '…'} to ${s.maximum ?? '…'}` : '',
    s.maxItems !== undefined ? `at most ${String(s.maxItems)} items` : '',
    s.default !== undefined ? `default <code>${escape(JSON.stringify(s.default))}</code>` : '',
  ].filter(Boolean);
  return limits.length > 0 ? `${base} (${limits.join('; ')})` : base;
}

/** A schema as a table of its fields (name, type and constraints, required, description); other schemas as a phrase. */
function schemaTable(schema: Schema): string {
  const properties = schema.properties as Record<string, Schema> | undefined;
  if (!properties) return `<p>${typeOf(schema)}</p>`;
  const required = new Set((schema.required ?? []) as string[]);
  const rows = Object.entries(properties)
    .map(
      ([field, s]) =>
        `<tr><td><code>${escape(field)}</code></td><td>${typeOf(s)}</td><td>${required.has(field) ? 'yes' : ''}</td>` +
        `<td>${typeof s.description === 'string' ? inline(s.description) : ''}</td></tr>`,
    )
    .join('');
  const closed = schema.additionalProperties === false ? '<p>Other fields are refused.</p>' : '';
  return `<table><tr><th>field</th><th>type</th><th>required</th><th></th></tr>${rows}</table>${closed}`;
}

/** Example values for path parameters, so every operation's example is a command that can be run. */
const PATH_EXAMPLES: Record<string, string> = {
  projectId: 'prj_01jd6x4q3f8v2y0t5m7k9n1r3s',
  operationId: 'op_01jd6x4q3f8v2y0t5m7k9n1r3s',
  networkId: 'net_01jd6x4q3f8v2y0t5m7k9n1r3s',
  region: 'sto',
  organization: 'acme',
  partner: 'initech',
  user: 'alice@example.org',
  group: 'researchers',
};

/** An operation as a curl command: the token and the bridge's address from the environment. */
function curlOf(method: string, path: string, example: unknown): string {
  const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(PATH_EXAMPLES[name] ?? `<${name}>`));
  const parts = [`curl -X ${method.toUpperCase()} "$INFRAFED_REST${url}"`, '-H "Authorization: Bearer $INFRAFED_TOKEN"'];
  if (example !== undefined) parts.push("-H 'content-type: application/json'", `-d '${JSON.stringify(example)}'`);
  if (method !== 'get') parts.push(`-H 'Idempotency-Key: ${method}-${path.split('/')[1]}-1'`);
  return parts.join(' \\\n  ');
}

/**
 * A human-readable page of the OpenAPI document, rendered on the server from the document itself (no
 * script, nothing fetched from elsewhere): operations by tag, their parameters, bodies and responses, the
 * schemas, and one anchor per error code (the problem `type`s point here).
 */
export function renderDocs(doc: OpenAPIObject): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = (item as Record<string, OperationObject | undefined>)[method];
      if (!op) continue;
      const params = ((op.parameters ?? []) as ParameterObject[])
        .map(
          (p) =>
            `<li><code>${escape(p.name)}</code> (${p.in}${p.required ? ', required' : ''}) ` +
            `${p.description ? inline(p.description) : ''} ${typeOf(p.schema)}</li>`,
        )
        .join('');
      const media = op.requestBody ? (op.requestBody as RequestBodyObject).content['application/json'] : undefined;
      const body = media ? `<p>Body: ${typeOf(media.schema)}</p>` : '';
      const example = `<p>Example:</p><pre>${escape(curlOf(method, path, media?.example))}</pre>`;
      const responses = Object.entries(op.responses ?? {})
        .map(([status, r]) => {
          const res = r as ResponseObject;
          const schema = Object.values(res.content ?? {})[0]?.schema;
          return `<li><b>${status}</b> ${inline(res.description)} ${schema ? typeOf(schema) : ''}</li>`;
        })
        .join('');
      const html = `<section id="op-${op.operationId}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
<p><b>${inline(op.summary ?? '')}</b></p>${op.description ? markdown(op.description) : ''}
${params ? `<p>Parameters:</p><ul>${params}</ul>` : ''}${body}<p>Responses:</p><ul>${responses}</ul>${example}</section>`;
      const tag = op.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, s]) => `<section id="schema-${name}"><h3>${name}</h3>${schemaTable(s as Schema)}</section>`)
    .join('\n');
  const problems = Object.values(ErrorCode)
    .map((code) => `<li id="problem-${code.toLowerCase().replace(/_/g, '-')}"><code>${code}</code>: HTTP ${httpStatusByCode[code]}</li>`)
    .join('');
  const description = markdown(doc.info.description ?? '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(doc.info.title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.5rem;overflow:auto}
.m{display:inline-block;min-width:4rem;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:1px 4px}
.get{background:#2b6cb0}.post{background:#2f855a}.put{background:#b7791f}
.patch{background:#6b46c1}.delete{background:#c53030}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}</style></head>
<body><h1>${escape(doc.info.title)} <small>${escape(doc.info.version)}</small></h1>${description}
<p>The examples read the bridge's address from <code>$INFRAFED_REST</code> (e.g. <code>http://127.0.0.1:4100</code>) and a
token from <code>$INFRAFED_TOKEN</code> (<code>npm run token -- &lt;org&gt; &lt;role&gt;</code> on the local system).</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escape(doc.openapi)}) and
<a href="/openapi-3.0.json">/openapi-3.0.json</a> (OpenAPI 3.0.3, for generators that do not read 3.1).</p>
${[...byTag.entries()].map(([tag, ops]) => `<h2>${escape(tag)}</h2>${ops.join('\n')}`).join('\n')}
<h2>Error codes</h2>
<p>Every problem's <code>type</code> is <code>/docs#problem-&lt;code&gt;</code>; its HTTP status comes from this table.</p>
<ul>${problems}</ul>
<h2>Schemas</h2>${schemas}
<h2 id="license">License</h2>
<p>${escape(doc.info.license?.name ?? 'UNLICENSED')}: this API and its descriptions are not licensed for use beyond the service agreement that gives you access.</p>
</body></html>`;
}
