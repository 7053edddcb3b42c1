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
});
