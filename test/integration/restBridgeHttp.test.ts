import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import pino from 'pino';
import { createRestBridge } from '../../rest-bridge/createRestBridge.ts';

/**
 * The bridge's own HTTP failures, before any GraphQL: each is problem+json with its code from the one
 * error table (schema/errors.ts) and that code's status. No gateway is needed (none is asked).
 */
describe('REST bridge: failures of the HTTP request itself', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    ({ server } = createRestBridge({
      gatewayUrl: 'http://127.0.0.1:9/graphql',
      timeoutMs: 1_000,
      log: pino({ level: 'silent' }),
      version: 'test',
      placements: [
        { region: 'sto', platform: 'openstack' },
        { region: 'osl', platform: 'openstack' },
        { region: 'lla', platform: 'okd' },
      ],
    }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const problem = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, init);
    const body = (await res.json()) as { status: number; code: string; title: string; detail: string };
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      allow: res.headers.get('allow'),
      code: body.code,
      bodyStatus: body.status,
      title: body.title,
    };
  };

  it('answers a method the resource lacks with 405 METHOD_NOT_ALLOWED and the methods it has', async () => {
    expect(await problem('/projects', { method: 'PUT' })).toEqual({
      status: 405,
      type: 'application/problem+json',
      allow: 'GET, POST',
      code: 'METHOD_NOT_ALLOWED',
      bodyStatus: 405,
      title: 'Method Not Allowed',
    });
  });

  it('answers a malformed %-escape in the path with 400 BAD_REQUEST, not 500', async () => {
    expect(await problem('/projects/%E0%A4%A')).toMatchObject({ status: 400, code: 'BAD_REQUEST', bodyStatus: 400, title: 'Bad Request' });
  });

  it('answers a body that is not JSON with 415 or 400, and one too large with 413', async () => {
    const post = (body: string, type: string) => ({ method: 'POST', headers: { 'content-type': type }, body });
    expect(await problem('/projects', post('name=x', 'application/x-www-form-urlencoded'))).toMatchObject({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      title: 'Unsupported Media Type',
    });
    expect(await problem('/projects', post('{"name":', 'application/json'))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(await problem('/projects', post(JSON.stringify({ name: 'x'.repeat(1 << 20) }), 'application/json'))).toMatchObject({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      title: 'Content Too Large',
    });
  });

  it('answers a path outside the document with 404 NOT_FOUND', async () => {
    expect(await problem('/nothing-here')).toMatchObject({ status: 404, code: 'NOT_FOUND', title: 'Not Found' });
  });

  /** A request the bridge refuses before any GraphQL (no gateway is reachable here: a 503 means it asked one). */
  const refused = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, init);
    const body = (await res.json()) as { code: string; problems?: { location: string; message: string; value?: unknown }[] };
    return { status: res.status, code: body.code, problems: body.problems ?? [] };
  };
  const json = (method: string, body: unknown, headers: Record<string, string> = {}) => ({
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const P = `prj_${'0'.repeat(26)}`;

  it('reports every problem of a body in one 422: the schema problems, an unknown region, a platform the region lacks, an unknown field', async () => {
    const answer = await refused(
      '/projects',
      json('POST', {
        name: '',
        placements: [
          { region: 'mars', platform: 'openstack' },
          { region: 'lla', platform: 'openstack' },
        ],
        colour: 'red',
      }),
    );
    expect(answer).toMatchObject({ status: 422, code: 'BAD_USER_INPUT' });
    expect(answer.problems.map((p) => p.location).sort()).toEqual([
      'body.colour',
      'body.name',
      'body.placements[0].region',
      'body.placements[1].platform',
    ]);
    expect(answer.problems.find((p) => p.location === 'body.placements[0].region')).toMatchObject({
      message: 'unknown region; known regions: sto, osl, lla',
      value: 'mars',
    });
  });

  it('locates a path parameter in the path (path.region), with the body problems beside it', async () => {
    const answer = await refused(`/projects/${P}/quotas/xyz`, json('PATCH', { cores: -1, colour: 'red' }));
    expect(answer).toMatchObject({ status: 422, code: 'BAD_USER_INPUT' });
    expect(answer.problems.map((p) => p.location).sort()).toEqual(['body.colour', 'body.cores', 'path.region']);
  });

  it('takes field names that objects inherit (valueOf, constructor) as unknown fields, not as the prototype fields (found by the fuzzer: a 500)', async () => {
    const answer = await refused('/projects?constructor=x', json('POST', { valueOf: '', constructor: 1, toString: null }));
    expect(answer).toMatchObject({ status: 422, code: 'BAD_USER_INPUT' });
    expect(answer.problems.map((p) => p.location)).toEqual(
      expect.arrayContaining(['query.constructor', 'body.valueOf', 'body.constructor', 'body.toString']),
    );
  });

  it('refuses unknown query parameters, with what the operation takes', async () => {
    const answer = await refused('/projects?colour=red&limit=0');
    expect(answer.status).toBe(422);
    expect(answer.problems.map((p) => p.location).sort()).toEqual(['query.colour', 'query.limit']);
    expect(answer.problems.find((p) => p.location === 'query.colour')?.message).toMatch(/^unknown query parameter; known: limit, cursor/);
  });

  it('refuses an Idempotency-Key over the documented 200 characters, on deletes too', async () => {
    const key = 'k'.repeat(201);
    const post = await refused(
      '/projects',
      json('POST', { name: 'ok', placements: [{ region: 'sto', platform: 'openstack' }] }, { 'idempotency-key': key }),
    );
    expect(post).toMatchObject({ status: 422, problems: [expect.objectContaining({ location: 'header.Idempotency-Key' })] });
    const del = await refused(`/projects/${P}`, { method: 'DELETE', headers: { 'idempotency-key': key } });
    expect(del).toMatchObject({ status: 422, problems: [expect.objectContaining({ location: 'header.Idempotency-Key' })] });
  });

  it('refuses an audit cursor it did not make (an overlong number is not a position), as 422 not 500', async () => {
    const answer = await refused('/audit-events?cursor=99999999999999999999');
    expect(answer).toMatchObject({ status: 422, problems: [expect.objectContaining({ location: 'query.cursor' })] });
  });

  it('cuts echoed values: a 500 kB description comes back as 64 characters and an ellipsis', async () => {
    const res = await fetch(
      `${base}/projects`,
      json('POST', { name: 'ok', description: 'd'.repeat(500_000), placements: [{ region: 'sto', platform: 'openstack' }] }),
    );
    const text = await res.text();
    expect(res.status).toBe(422);
    expect(text.length).toBeLessThan(2_000);
    const body = JSON.parse(text) as { problems: { location: string; value: string }[] };
    expect(body.problems).toEqual([expect.objectContaining({ location: 'body.description', value: `${'d'.repeat(64)}…` })]);
  });
});
