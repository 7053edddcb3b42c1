import { describe, expect, it } from '@jest/globals';
import { parse, type ExecutionResult } from 'graphql';
import {
  AUDIT_BATCH_MAX,
  AUDIT_BATCH_MS,
  createResponseCache,
  isCacheableQuery,
  noteSubgraphRead,
  type CachedReadsBatch,
  type ResponseCacheOptions,
} from './responseCache.ts';
import { responseCacheTotal } from '../runtime/metrics.ts';

/** `infrafed_gateway_response_cache_total{result="hit"}` so far. */
async function hitCount(): Promise<number> {
  return (await responseCacheTotal.get()).values.find((v) => v.labels.result === 'hit')?.value ?? 0;
}

/** A request reaching the plugin's `onRequest`: the kept answer when it is given at once. */
async function arrive(hooks: Record<string, (payload: unknown) => unknown>, query: string, token: string) {
  const request = new Request('http://gateway.test/graphql', {
    method: 'POST',
    headers: { authorization: token, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  let early: Response | undefined;
  await hooks.onRequest?.({ request, url: new URL(request.url), endResponse: (r: Response) => (early = r) });
  return { request, early: early as Response | undefined };
}

/** The plugin's hooks driven as the gateway runtime drives them, one request at a time. */
function harness(options: Partial<ResponseCacheOptions> = {}) {
  let generation: number | null = 1;
  const audited: CachedReadsBatch = [];
  const cache = createResponseCache({
    options: { seconds: 60, maxEntries: 100, maxBytes: 1 << 20, ...options },
    generation: { current: async () => generation, bump: async () => {} },
    audit: (batch) => void audited.push(...batch),
    forwardedAuthorization: (request) => request.headers.get('authorization'),
  });
  const hooks = cache.plugin as unknown as Record<string, (payload: unknown) => unknown>;

  /** One request: `answer` is what the subgraphs would give (nothing executes on a hit). */
  async function ask(query: string, token = 'Bearer a', answer: ExecutionResult = { data: { projects: [] } }) {
    const { request, early } = await arrive(hooks, query, token);
    let response = early;
    if (!response) {
      hooks.onExecute?.({ args: { contextValue: { request }, document: parse(query) } });
      noteSubgraphRead(request, 'IDENTITY', parse('{ projects { id } }'), {});
      await hooks.onExecutionResult?.({ request, result: answer });
      response = new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });
    }
    await hooks.onResponse?.({ request, response });
    return { executed: !early, text: await response.text(), cacheStatus: response.headers.get('cache-status') };
  }
  return {
    cache,
    ask,
    audited,
    setGeneration: (g: number | null) => (generation = g),
  };
}

describe('isCacheableQuery', () => {
  it('takes queries of regions, projects, project and organization only', () => {
    expect(isCacheableQuery(parse('{ projects { id } regions { name } __typename }'))).toBe(true);
    expect(isCacheableQuery(parse('query Q { project(id: "prj_1") { id } }'), 'Q')).toBe(true);
    expect(isCacheableQuery(parse('{ projects { id } operation(id: "op_1") { status } }'))).toBe(false);
    expect(isCacheableQuery(parse('{ auditEvents { events { id } } }'))).toBe(false);
    expect(isCacheableQuery(parse('{ ...F } fragment F on Query { projects { id } }'))).toBe(false);
    expect(isCacheableQuery(parse('mutation { createProject(input: {}) { id } }'))).toBe(false);
    expect(isCacheableQuery(parse('subscription { operation { id } }'))).toBe(false);
  });
});

describe('response cache', () => {
  it('gives an answer again to the same caller in the same generation, and audits each read it was made of', async () => {
    const h = harness();
    const hitsBefore = await hitCount();
    const first = await h.ask('{ projects { id } }');
    expect([first.executed, first.cacheStatus]).toEqual([true, 'infrafed; fwd=miss; stored']);
    const again = await h.ask('{ projects { id } }');
    expect(again.executed).toBe(false);
    expect(again.cacheStatus).toMatch(/^infrafed; hit; ttl=(59|60)$/);
    expect(again.text).toBe(first.text);
    expect((await hitCount()) - hitsBefore).toBe(1);
    // audited in a batch, sent within AUDIT_BATCH_MS (or at once when asked)
    expect(h.audited).toEqual([]);
    await h.ask('{ projects { id } }');
    h.cache.flush();
    const read = { subgraph: 'identity', fields: 'projects', projectId: null };
    expect(h.audited).toEqual([
      { read, authorization: 'Bearer a' },
      { read, authorization: 'Bearer a' },
    ]);
    // another token: its own request
    expect((await h.ask('{ projects { id } }', 'Bearer b')).executed).toBe(true);
  });

  it('never gives an answer of an older generation, nor one past its time, nor when the generation is unknown', async () => {
    const h = harness({ seconds: 1 });
    await h.ask('{ projects { id } }');
    h.setGeneration(2);
    expect((await h.ask('{ projects { id } }')).executed).toBe(true);
    expect((await h.ask('{ projects { id } }')).executed).toBe(false);
    h.setGeneration(null);
    const unknown = await h.ask('{ projects { id } }');
    expect([unknown.executed, unknown.cacheStatus]).toEqual([true, 'infrafed; fwd=miss']);
    h.setGeneration(2);
    await new Promise((r) => setTimeout(r, 1_050));
    expect((await h.ask('{ projects { id } }')).executed).toBe(true);
  });

  it('keeps no answer with an error, and passes other fields by', async () => {
    const h = harness();
    const failed = { data: { projects: null }, errors: [{ message: 'region sto did not answer in time' }] } as unknown as ExecutionResult;
    expect((await h.ask('{ projects { id } }', 'Bearer a', failed)).cacheStatus).toBe('infrafed; fwd=miss');
    expect((await h.ask('{ projects { id } }')).executed).toBe(true);
    const audit = await h.ask('{ auditEvents { events { id } } }');
    expect(audit.cacheStatus).toBe('infrafed; fwd=bypass');
    expect((await h.ask('{ auditEvents { events { id } } }')).executed).toBe(true);
  });

  it('sends the audit of answers given again in batches of at most AUDIT_BATCH_MAX, the rest within AUDIT_BATCH_MS', async () => {
    const batches: number[] = [];
    const cache = createResponseCache({
      options: { seconds: 60, maxEntries: 100, maxBytes: 1 << 20 },
      generation: { current: async () => 1, bump: async () => {} },
      audit: (batch) => void batches.push(batch.length),
      forwardedAuthorization: () => 'Bearer a',
    });
    const hooks = cache.plugin as unknown as Record<string, (payload: unknown) => unknown>;
    const ask = async () => {
      const { request, early } = await arrive(hooks, '{ regions { name } }', 'Bearer a');
      const response = early ?? new Response('{"data":{"regions":[]}}', { status: 200, headers: { 'content-type': 'application/json' } });
      if (!early) {
        hooks.onExecute?.({ args: { contextValue: { request }, document: parse('{ regions { name } }') } });
        noteSubgraphRead(request, 'catalog', parse('{ regions { name } }'), {});
        await hooks.onExecutionResult?.({ request, result: { data: { regions: [] } } });
      }
      await hooks.onResponse?.({ request, response });
    };
    for (let i = 0; i < AUDIT_BATCH_MAX + 2; i++) await ask();
    // the first read was a miss: AUDIT_BATCH_MAX + 1 hits, one full batch at once
    expect(batches).toEqual([AUDIT_BATCH_MAX]);
    await new Promise((r) => setTimeout(r, AUDIT_BATCH_MS + 50));
    expect(batches).toEqual([AUDIT_BATCH_MAX, 1]);
    cache.dispose();
  });

  it('keeps at most maxEntries and maxBytes (the oldest go first), and forgets everything on clear', async () => {
    const h = harness({ maxEntries: 2 });
    await h.ask('{ projects { id } }', 'Bearer 1');
    await h.ask('{ projects { id } }', 'Bearer 2');
    await h.ask('{ projects { id } }', 'Bearer 3');
    expect(h.cache.stats().entries).toBe(2);
    expect((await h.ask('{ projects { id } }', 'Bearer 1')).executed).toBe(true);
    expect((await h.ask('{ projects { id } }', 'Bearer 3')).executed).toBe(false);
    h.cache.clear();
    expect((await h.ask('{ projects { id } }', 'Bearer 3')).executed).toBe(true);

    const small = harness({ maxBytes: 1024 });
    const big = { data: { projects: [{ id: 'x'.repeat(600) }] } };
    await small.ask('{ projects { id } }', 'Bearer 1', big);
    await small.ask('{ projects { id } }', 'Bearer 2', big);
    expect(small.cache.stats()).toMatchObject({ entries: 1 });
    expect(small.cache.stats().bytes).toBeLessThanOrEqual(1024);
  });
});
