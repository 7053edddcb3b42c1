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
const schemaLink = (schema: unknown) => {
  const name = refName(schema);
  return name ? `<a href="#schema-${name}">${name}</a>` : `<code>${escape(JSON.stringify(schema))}</code>`;
};

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
            `${p.description ? escape(p.description) : ''} ${schemaLink(p.schema)}</li>`,
        )
        .join('');
      const body = op.requestBody
        ? `<p>Body: ${schemaLink((op.requestBody as RequestBodyObject).content['application/json']?.schema)}</p>`
        : '';
      const responses = Object.entries(op.responses ?? {})
        .map(([status, r]) => {
          const res = r as ResponseObject;
          const schema = Object.values(res.content ?? {})[0]?.schema;
          return `<li><b>${status}</b> ${escape(res.description)} ${schema ? schemaLink(schema) : ''}</li>`;
        })
        .join('');
      const html = `<section id="op-${op.operationId}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
<p>${escape(op.summary ?? '')}</p>${op.description ? `<p>${escape(op.description)}</p>` : ''}
${params ? `<p>Parameters:</p><ul>${params}</ul>` : ''}${body}<p>Responses:</p><ul>${responses}</ul></section>`;
      const tag = op.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, s]) => `<section id="schema-${name}"><h3>${name}</h3><pre>${escape(JSON.stringify(s, null, 2))}</pre></section>`)
    .join('\n');
  const problems = Object.values(ErrorCode)
    .map((code) => `<li id="problem-${code.toLowerCase().replace(/_/g, '-')}"><code>${code}</code>: HTTP ${httpStatusByCode[code]}</li>`)
    .join('');
  const description = escape(doc.info.description ?? '')
    .split('\n\n')
    .map((p) => `<p>${p.replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>')}</p>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(doc.info.title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.5rem;overflow:auto}
.m{display:inline-block;min-width:4rem;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:1px 4px}
.get{background:#2b6cb0}.post{background:#2f855a}.put{background:#b7791f}
.patch{background:#6b46c1}.delete{background:#c53030}</style></head>
<body><h1>${escape(doc.info.title)} <small>${escape(doc.info.version)}</small></h1>${description}
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
