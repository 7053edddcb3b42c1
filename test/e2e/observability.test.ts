import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Svcm } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';

/** What an operator sees: one request's trace in every hop's log, no token in any log, health and metrics everywhere. */
describe('observability end to end: traces, logs, health, metrics', () => {
  let system: SharedSystem;
  let owner: string;
  /** Every line every component printed (the shared system's components log at debug level); refreshed by `read()`. */
  let lines: { name: string; line: string }[] = [];
  const read = async () => {
    lines = await system.lines();
  };

  beforeAll(async () => {
    system = await sharedSystem();
    owner = await system.token('obsco', 'owner', 'olga');
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  const logOf = (name: string, traceId: string) =>
    lines
      .filter((l) => l.name === name)
      .map((l) => {
        try {
          return JSON.parse(l.line) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .filter((l) => l.traceId === traceId);

  it("carries one request's W3C trace id from the HTTP request through NATS to the adapter and its vendor calls", async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${system.restUrl}/projects`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${owner}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({ name: 'traced', placements: [{ region: 'sto', platform: 'openstack' }] }),
    });
    expect(res.status).toBe(201);
    await new Promise((r) => setTimeout(r, 300));
    await read();
    const hops = ['rest-bridge', 'gateway', 'identity', 'controller', 'adapter-sto'];
    expect(Object.fromEntries(hops.map((h) => [h, logOf(h, traceId).length > 0]))).toEqual(Object.fromEntries(hops.map((h) => [h, true])));
    // the vendor call itself (Keystone) is logged with the trace, and the operation's lines with its id and organisation
    expect(logOf('adapter-sto', traceId).some((l) => l.msg === 'vendor call' && String(l.vendor).startsWith('Keystone'))).toBe(true);
    expect(logOf('controller', traceId).some((l) => typeof l.operationId === 'string' && l.organization === 'obsco')).toBe(true);
    expect(logOf('identity', traceId).some((l) => l.organization === 'obsco')).toBe(true);
    // a request without a traceparent gets one at the first hop, and it travels on
    await fetch(`${system.restUrl}/projects`, { headers: { authorization: `Bearer ${owner}` } });
    await new Promise((r) => setTimeout(r, 200));
    await read();
    const last = lines.filter((l) => l.name === 'rest-bridge' && l.line.includes('"http request"')).at(-1);
    const started = (JSON.parse(last?.line ?? '{}') as { traceId?: string }).traceId as string;
    expect(started).toMatch(/^[0-9a-f]{32}$/);
    expect(logOf('identity', started).length).toBeGreaterThan(0);
  });

  it('never writes a token, password or credential to a log line', async () => {
    // requests with the token in every place a careless log could pick it up: header, a bad token, a query
    const bad = `${owner.slice(0, -4)}AAAA`;
    await fetch(`${system.restUrl}/projects?x=${owner}`, { headers: { authorization: `Bearer ${owner}` } });
    await fetch(`${system.restUrl}/projects`, { headers: { authorization: `Bearer ${bad}` } });
    await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${bad}`, 'content-type': 'application/json' },
      body: '{"query":"{ projects { id } }"}',
    });
    await new Promise((r) => setTimeout(r, 300));
    await read();
    // the requests were logged (so the check below looks at their lines), without what they carried
    expect(lines.filter((l) => l.name === 'rest-bridge' && l.line.includes('"status":401')).length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.name === 'gateway' && l.line.includes('"status":401')).length).toBeGreaterThan(0);
    const signature = owner.split('.')[2] as string;
    const secrets = [
      signature,
      bad.split('.')[2] as string,
      system.config.auth.hs256Secret as string,
      'admin-secret',
      system.okd('lla').token,
    ];
    const leaks = lines.filter((l) => secrets.some((s) => l.line.includes(s)));
    expect(leaks).toEqual([]);
  });

  it('answers /healthz and /readyz on every HTTP face and every component’s ops port, and adapters report readiness through the NATS services API', async () => {
    for (const name of ['gateway', 'rest-bridge', 'controller', 'identity', 'adapter-sto', 'adapter-okd-lla']) {
      const alive = await fetch(`${system.opsUrl(name)}/healthz`);
      expect([name, alive.status]).toEqual([name, 200]);
      const ready = await fetch(`${system.opsUrl(name)}/readyz`);
      const body = (await ready.json()) as { status: string; checks: Record<string, unknown> };
      expect([name, ready.status, body.status]).toEqual([name, 200, 'ready']);
    }
    const gatewayReady = (await (await fetch(`${system.opsUrl('gateway')}/readyz`)).json()) as { checks: Record<string, unknown> };
    expect(gatewayReady.checks).toMatchObject({
      nats: true,
      supergraph: true,
      'infrafed-subgraph-identity': true,
      'infrafed-subgraph-quota': true,
    });

    const nc = await connect({ servers: system.natsUrl });
    try {
      const stats = [];
      for await (const s of await new Svcm(nc)
        .client({ strategy: 'stall', stall: 300, maxWait: 3_000 })
        .stats('infrafed-adapter-openstack'))
        stats.push(s);
      expect(stats.length).toBe(2);
      for (const s of stats)
        expect(
          (s.endpoints ?? []).length > 0 && (s.endpoints ?? []).every((e) => (e.data as { ready?: boolean } | undefined)?.ready === true),
        ).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('exposes Prometheus metrics on every component: requests, errors by code, latency, NATS requests and no-responders', async () => {
    const metrics = async (name: string) => await (await fetch(`${system.opsUrl(name)}/metrics`)).text();
    expect(await metrics('rest-bridge')).toMatch(
      /infrafed_requests_total\{component="rest-bridge",operation="createProject",region="",code="OK"\} [1-9]/,
    );
    expect(await metrics('rest-bridge')).toMatch(
      /infrafed_request_errors_total\{component="rest-bridge",operation="listProjects",region="",code="HTTP_401"\} [1-9]/,
    );
    expect(await metrics('gateway')).toMatch(
      /infrafed_request_duration_seconds_bucket\{le="0.5",component="gateway",operation="graphql",region=""\} [1-9]/,
    );
    expect(await metrics('controller')).toMatch(
      /infrafed_requests_total\{component="controller",operation="operation-submit",region="",code="OK"\} [1-9]/,
    );
    expect(await metrics('adapter-sto')).toMatch(
      /infrafed_requests_total\{component="adapter-openstack",operation="project-create",region="sto",code="OK"\} [1-9]/,
    );
    expect(await metrics('adapter-sto')).toMatch(/infrafed_vendor_requests_total\{vendor="Keystone",region="sto",status="201"\} [1-9]/);
    expect(await metrics('identity')).toMatch(/infrafed_nats_requests_total\{target="adapter-openstack",region="sto",outcome="ok"\} [1-9]/);

    await system.stopAdapter('osl');
    try {
      await fetch(`${system.restUrl}/projects`, { headers: { authorization: `Bearer ${owner}` } });
      expect(await metrics('identity')).toMatch(/infrafed_nats_no_responders_total\{target="adapter-openstack",region="osl"\} [1-9]/);
    } finally {
      await system.startAdapter('osl');
    }
  }, 60_000);
});
