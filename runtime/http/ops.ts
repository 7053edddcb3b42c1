import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm } from '@nats-io/services';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { traceIdOf, traceparentFrom, withContext } from '../context.ts';
import type { Logger } from '../log.ts';
import { recordRequest, registry, setComponent } from '../metrics.ts';

/** Readiness checks by name: `true`, or why not. */
export type ReadinessCheck = () => Promise<Record<string, true | string>>;

/** Answers `/healthz` (alive), `/readyz` (every check passes) and `/metrics` (Prometheus); false for other paths. */
export async function serveOps(req: IncomingMessage, res: ServerResponse, ready: ReadinessCheck): Promise<boolean> {
  if (req.method !== 'GET') return false;
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"alive"}');
    return true;
  }
  if (path === '/readyz') {
    let checks: Record<string, true | string>;
    try {
      checks = await ready();
    } catch (error) {
      checks = { checks: (error as Error).message };
    }
    const ok = Object.values(checks).every((v) => v === true);
    res
      .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: ok ? 'ready' : 'not ready', checks }));
    return true;
  }
  if (path === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    return true;
  }
  return false;
}

/**
 * An HTTP face of a component: ops paths first; every other request runs with its W3C trace (the
 * caller's `traceparent`, or a new one, also set on the request so it travels on), is logged once at info
 * (method, path, status, ms, trace id) and counted in the metrics (`operation` from `operationOf`).
 */
export function httpFace(
  handler: RequestListener,
  options: { log: Logger; ready: ReadinessCheck; operationOf?: (req: IncomingMessage) => string },
): RequestListener {
  // the access line holds only the fields below (the path without its query), none of them a secret: it
  // skips the redaction every other line gets, which cost about 11 µs a line (the busiest line there is)
  const accessLog = options.log.child({}, { redact: { paths: [], censor: '[redacted]' } });
  return (req, res) => {
    void serveOps(req, res, options.ready).then((handled) => {
      if (handled) return;
      const traceparent = traceparentFrom(req.headers.traceparent as string | undefined);
      req.headers.traceparent = traceparent;
      const traceId = traceIdOf(traceparent);
      withContext({ traceparent, traceId }, () => {
        const started = performance.now();
        res.once('finish', () => {
          const ms = performance.now() - started;
          accessLog.info(
            { method: req.method, path: (req.url ?? '/').split('?')[0], status: res.statusCode, ms: Math.round(ms), traceId },
            'http request',
          );
          const code = res.statusCode < 400 ? 'OK' : `HTTP_${res.statusCode}`;
          recordRequest(options.operationOf?.(req) ?? `${req.method} ${(req.url ?? '/').split('?')[0]}`, '', code, ms / 1000);
        });
        handler(req, res);
      });
    });
  };
}

/** `/healthz`, `/readyz` and `/metrics` for a component without an HTTP face of its own (INFRAFED_OPS_PORT). */
export async function startOpsServer(port: number, host: string, ready: ReadinessCheck): Promise<Server> {
  const server = createServer((req, res) => {
    void serveOps(req, res, ready).then((handled) => {
      if (!handled) res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

/**
 * Stops an HTTP server gracefully: no new connections; connections close as soon as they are idle (a
 * keep-alive connection whose request is still running closes once its response is sent).
 */
export async function closeGracefully(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  try {
    await closed;
  } finally {
    clearInterval(sweep);
  }
}

/** NATS answers a round trip within a second. */
export function natsReady(nc: NatsConnection): ReadinessCheck {
  return async () => {
    if (nc.isClosed()) return { nats: 'closed' };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        nc.flush(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 1 s')), 1_000))),
      ]);
      return { nats: true };
    } catch (error) {
      return { nats: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Every named NATS service has at least one replica answering `$SRV.PING` within `timeoutMs`. */
export function servicesReady(nc: NatsConnection, services: readonly string[], timeoutMs = 1_000): ReadinessCheck {
  return async () => {
    const client = new Svcm(nc).client({ strategy: 'count', maxMessages: 1, maxWait: timeoutMs });
    const out: Record<string, true | string> = {};
    await Promise.all(
      services.map(async (name) => {
        let found = 0;
        try {
          for await (const _ of await client.ping(name)) found++;
        } catch (error) {
          out[name] = (error as Error).message;
          return;
        }
        out[name] = found > 0 ? true : 'no replica answered';
      }),
    );
    return out;
  };
}

/** Runs every check; all results together. */
export function allOf(...checks: ReadinessCheck[]): ReadinessCheck {
  return async () => Object.assign({}, ...(await Promise.all(checks.map((c) => c()))));
}

/**
 * The ops endpoints of a component without an HTTP face: names its metrics, and serves `/healthz`,
 * `/readyz` and `/metrics` on INFRAFED_OPS_PORT (INFRAFED_OPS_HOST, default 127.0.0.1) when set.
 * Returns what stops it.
 */
export async function opsForComponent(
  component: string,
  ready: ReadinessCheck,
  env: NodeJS.ProcessEnv = process.env,
): Promise<() => Promise<void>> {
  setComponent(component);
  if (!env.INFRAFED_OPS_PORT) return async () => {};
  const server = await startOpsServer(Number(env.INFRAFED_OPS_PORT), env.INFRAFED_OPS_HOST ?? '127.0.0.1', ready);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
