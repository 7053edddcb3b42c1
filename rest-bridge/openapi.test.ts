import { describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createRestBridge } from './createRestBridge.ts';
import { routes } from './routes/index.ts';
import { renderDocs } from './docs.ts';
import { unknownFields } from '../runtime/problems.ts';
import type { OperationObject, RequestBodyObject } from 'openapi3-ts/oas31';

const { document, document30 } = createRestBridge({
  gatewayUrl: 'http://127.0.0.1:9/graphql',
  timeoutMs: 1_000,
  log: pino({ level: 'silent' }),
  version: '0.0.0-test',
});
const operations = Object.values(document.paths ?? {}).flatMap((item) =>
  Object.keys(item).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)),
);

describe('the OpenAPI document of the REST bridge', () => {
  it('is valid OpenAPI 3.1 (the official schema, through @seriousme/openapi-schema-validator)', async () => {
    const result = await new Validator().validate(structuredClone(document) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
    // and the validator does refuse a broken document (no info, a response without description)
    const broken = { openapi: '3.1.0', paths: { '/x': { get: { responses: { '200': {} } } } } };
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
  });

  /** `redocly lint` of a document: its exit status and output. */
  const redoclyLint = (doc: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'infrafed-openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = fileURLToPath(new URL('../node_modules/@redocly/cli/bin/cli.js', import.meta.url));
    // telemetry and update checks off: nothing may leave this machine
    const run = spawnSync(process.execPath, [cli, 'lint', file], {
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  };

  it('passes `redocly lint` (recommended rules) with no errors and no warnings', () => {
    const { status, output } = redoclyLint(document);
    expect({ status, output }).toMatchObject({ status: 0 });
    expect(output).toContain('Your API description is valid');
    expect(output).not.toMatch(/warning/i);
  });

  it('has an OpenAPI 3.0 twin (/openapi-3.0.json): valid 3.0 (official schema), `redocly lint` with no warnings, the same operations', async () => {
    expect(document30.openapi).toBe('3.0.3');
    const result = await new Validator().validate(structuredClone(document30) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const { status, output } = redoclyLint(document30);
    expect({ status, output }).toMatchObject({ status: 0 });
    expect(output).toContain('Your API description is valid');
    expect(output).not.toMatch(/warning/i);
    const ops = (doc: { paths?: unknown }) =>
      Object.entries((doc.paths ?? {}) as Record<string, Record<string, { operationId?: string }>>).flatMap(([, item]) =>
        Object.values(item).map((o) => o.operationId),
      );
    expect(ops(document30)).toEqual(ops(document));
    // 3.0's dialect: no type lists, no 'null' type; nullable instead
    const text = JSON.stringify(document30);
    expect(text).not.toMatch(/"type":\[/);
    expect(text).not.toContain('"type":"null"');
    expect(text).toContain('"nullable":true');
  });

  it('has one operation per route, each with an operationId, and documents the REST conventions', () => {
    expect(operations.length).toBe(routes.length);
    const ids = routes.map((r) => r.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const createProject = document.paths?.['/projects']?.post;
    expect(Object.keys(createProject?.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '202', '401', '403', '409', '422', 'default']),
    );
    expect(createProject?.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
    expect(document.paths?.['/projects/{projectId}/quotas/{region}']?.patch?.responses?.['412']).toBeDefined();
    // request bodies come from the controller's own input schemas: the path's fields are not in the body
    const network = document.components?.schemas?.CreateNetworkInput as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(network.properties)).toEqual(expect.arrayContaining(['region', 'name', 'cidr', 'gatewayIp', 'router']));
    expect(network.properties.projectId).toBeUndefined();
    expect(network.required).toEqual(['region', 'name', 'cidr']);
  });

  it('lists the configured regions as enumerations, refuses unknown body fields, and answers a finished delete with 200', () => {
    const { document: deployed } = createRestBridge({
      gatewayUrl: 'http://127.0.0.1:9/graphql',
      timeoutMs: 1_000,
      log: pino({ level: 'silent' }),
      version: '0.0.0-test',
      placements: [
        { region: 'sto', platform: 'openstack' },
        { region: 'lla', platform: 'okd' },
      ],
    });
    const quota = deployed.paths?.['/projects/{projectId}/quotas/{region}']?.patch;
    const region = quota?.parameters?.find((p) => 'name' in p && p.name === 'region') as { schema: { enum?: string[] } };
    expect(region.schema.enum).toEqual(['sto', 'lla']);
    const create = deployed.components?.schemas?.CreateProjectInput as {
      additionalProperties: boolean;
      properties: { placements: { items: { properties: { region: { enum: string[] }; platform: { enum: string[] } } } } };
    };
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.placements.items.properties.region.enum).toEqual(['sto', 'lla']);
    expect(create.properties.placements.items.properties.platform.enum).toEqual(['openstack', 'okd']);
    const del = deployed.paths?.['/projects/{projectId}']?.delete;
    expect(Object.keys(del?.responses ?? {})).toEqual(expect.arrayContaining(['200', '202']));
    expect(del?.responses?.['201']).toBeUndefined();
    expect(del?.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
  });

  it('gives every operation a description and an example; each body example is a body the route accepts', () => {
    for (const route of routes) {
      expect([route.operationId, route.description.length > 40, route.description === route.summary]).toEqual([
        route.operationId,
        true,
        false,
      ]);
      if (!route.body) continue;
      const pathValues: Record<string, string> = {
        projectId: `prj_${'0'.repeat(26)}`,
        partner: 'initech',
        organization: 'acme',
        subject: 'campus:kim',
        id: `${route.path.startsWith('/quota-requests') ? 'qrq' : route.path.startsWith('/webhooks') ? 'whk' : 'inv'}_${'0'.repeat(26)}`,
      };
      const input = { ...route.body.example, ...Object.fromEntries(route.body.omit.map((k) => [k, pathValues[k]])) };
      const parsed = route.body.schema.safeParse(input);
      expect([route.operationId, parsed.success ? 'ok' : parsed.error.message]).toEqual([route.operationId, 'ok']);
      expect(unknownFields(route.body.schema, route.body.example)).toEqual([]);
      const media = (document.paths?.[route.path] as Record<string, OperationObject>)[route.method]?.requestBody as RequestBodyObject;
      expect(media.content['application/json']?.example).toEqual(route.body.example);
    }
  });

  it('renders the docs page from the document: Markdown descriptions, schemas as tables, a curl example per operation', () => {
    const html = renderDocs(document);
    expect(html).not.toContain('<pre>{');
    expect(html).toContain('<section id="schema-CreateProjectInput"><h3>CreateProjectInput</h3><table>');
    expect(html).toMatch(
      /<td><code>placements<\/code><\/td><td>array of <a href="#schema-[A-Za-z]+">|<td><code>placements<\/code><\/td><td>array of object/,
    );
    for (const route of routes) {
      const section = html.slice(html.indexOf(`id="op-${route.operationId}"`));
      const end = section.indexOf('</section>');
      expect([route.operationId, section.slice(0, end).includes(`curl -X ${route.method.toUpperCase()}`)]).toEqual([
        route.operationId,
        true,
      ]);
    }
    // Markdown: backticks become code, never shown raw
    expect(html).toContain('<code>incompleteRegions</code>');
    expect(html).not.toMatch(/<p>[^<]*`[^`<]+`/);
  });
});
