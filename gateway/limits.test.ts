import { describe, expect, it } from '@jest/globals';
import type { NatsConnection } from '@nats-io/nats-core';
import pino from 'pino';
import { createGateway } from './createGateway.ts';
import { defaultGraphqlLimits } from './limits.ts';

/**
 * The gateway refuses documents beyond its limits before anything reaches a subgraph: the NATS
 * connection here fails the test if it is ever used.
 */
describe('gateway limits', () => {
  const used: string[] = [];
  const nc = new Proxy({} as NatsConnection, {
    get(_target, name) {
      used.push(String(name));
      throw new Error(`the gateway touched NATS (${String(name)}) for a refused document`);
    },
  });
  const gateway = createGateway({
    nc,
    verifyToken: async () => ({ subject: 'alice', organization: 'acme', orgRole: 'owner', platformAdmin: false }),
    timeoutMs: 1_000,
    log: pino({ level: 'silent' }),
  });
  const post = async (body: string, headers: Record<string, string> = {}) => {
    const res = await gateway.fetch('http://gateway.test/graphql', {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body,
    });
    return { status: res.status, body: (await res.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[] } };
  };
  const query = (q: string) => post(JSON.stringify({ query: q }));
  const limitError = (r: Awaited<ReturnType<typeof post>>) =>
    r.body.errors?.find((e) => e.extensions?.code === 'QUERY_LIMIT_EXCEEDED')?.extensions;

  it('refuses 500 aliases of projects (each a fan-out to every region) naming the limit', async () => {
    const aliases = Array.from({ length: 500 }, (_, i) => `p${i}: projects { id }`).join(' ');
    const r = await query(`{ ${aliases} }`);
    expect(r.status).toBe(400);
    expect(limitError(r)).toEqual({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'maxAliases', max: defaultGraphqlLimits.maxAliases, found: 500 });
    expect(r.body.errors?.[0]?.message).toMatch(/Aliases limit of 20 exceeded, found 500/);
  });

  it('refuses a document deeper than the depth limit, or with more tokens than the token limit', async () => {
    const deep = `{ ${'a { '.repeat(20)}b${' }'.repeat(20)} }`;
    expect(limitError(await query(deep))).toMatchObject({ limit: 'maxDepth', max: defaultGraphqlLimits.maxDepth });
    const many = `{ regions { ${'name '.repeat(5_000)} } }`;
    expect(limitError(await query(many))).toMatchObject({ limit: 'maxTokens', max: defaultGraphqlLimits.maxTokens });
  });

  it('refuses a body over the size limit with 413, and a body of unknown size', async () => {
    const big = JSON.stringify({ query: '{ regions { name } }', variables: { pad: 'x'.repeat(defaultGraphqlLimits.maxBodyBytes) } });
    const r = await post(big);
    expect(r.status).toBe(413);
    expect(r.body.errors?.[0]?.extensions).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      limit: 'maxBodyBytes',
      max: defaultGraphqlLimits.maxBodyBytes,
    });
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"query":"{ regions { name } }"}'));
        c.close();
      },
    });
    const chunked = await gateway.fetch('http://gateway.test/graphql', {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(400);
  });

  it('suggests no field names (the schema is not probed through typos)', async () => {
    const r = await query('{ projectz { id } }');
    expect(r.body.errors?.[0]?.message).toMatch(/Cannot query field "projectz"/);
    expect(r.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('lets a large real query through the limits (it fails only when it reaches NATS)', async () => {
    const fields = 'id name description organization placements { region platform nativeId } members { user group role region platform }';
    const r = await query(`{ a: projects { ${fields} } b: projects { ${fields} networks { id name cidr router { external } } } }`);
    expect(limitError(r)).toBeUndefined();
    expect(used.length).toBeGreaterThan(0);
  });
});
