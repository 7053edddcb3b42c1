import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a fault does to one request that matches it. */
export type Fault =
  /** The vendor is never asked; the adapter gets a 500 (an adapter error). */
  | { kind: 'error'; status?: number }
  /** The vendor does the work; its answer reaches the adapter only after `ms` (past the adapter's deadline: a timeout with the call done). */
  | { kind: 'delay'; ms: number }
  /** The vendor does the work; its answer is held until `release()` (a controller can be killed meanwhile). */
  | { kind: 'hold' };

export interface FaultRule {
  /** An HTTP method, or `*` for any. */
  method: string;
  /** Matched against the path with its query (e.g. /v3/projects, /v2.0/networks, /api/v1/namespaces). */
  path: RegExp;
  fault: Fault;
  /** How many matching requests it hits (default 1). */
  times?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  fault: Fault['kind'] | null;
  at: number;
}

export interface FaultProxy {
  url: string;
  /** Every request that went through, in order (with the fault it met, if any). */
  log: ProxiedRequest[];
  /** Arms a rule; resolves `hit` when a request first meets it. */
  inject(rule: FaultRule): { hit: Promise<ProxiedRequest> };
  /** Lets held answers go (to the adapter, which may have given up on them). */
  release(): void;
  /** Disarms every rule and releases what is held. */
  clear(): void;
  close(): Promise<void>;
}

/**
 * A reverse proxy in front of one vendor API (Keystone, Neutron, nova-api, the OKD API) that injects
 * faults from the test harness, so product code has no test-only branches: requests pass through
 * untouched unless a rule armed by the test matches them.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const base = new URL(target);
  const rules: { rule: FaultRule; left: number; hit: (r: ProxiedRequest) => void }[] = [];
  const held: (() => void)[] = [];
  const log: ProxiedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const armed = rules.find((r) => r.left > 0 && (r.rule.method === '*' || r.rule.method === method) && r.rule.path.test(path));
      if (armed) armed.left -= 1;
      const fault = armed?.rule.fault ?? null;
      const entry: ProxiedRequest = { method, path, status: 0, fault: fault?.kind ?? null, at: Date.now() };
      log.push(entry);
      if (fault?.kind === 'error') {
        entry.status = fault.status ?? 500;
        armed?.hit(entry);
        res.writeHead(entry.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: entry.status, message: 'injected by the test harness' } }));
        return;
      }
      const headers: IncomingHttpHeaders = { ...req.headers, host: base.host };
      const upstream = httpRequest({ host: base.hostname, port: base.port, method, path, headers }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          entry.status = up.statusCode ?? 502;
          const answer = () => {
            if (res.destroyed) return;
            res.writeHead(entry.status, up.headers);
            res.end(Buffer.concat(body));
          };
          if (fault) armed?.hit(entry);
          if (fault?.kind === 'delay') setTimeout(answer, fault.ms);
          else if (fault?.kind === 'hold') held.push(answer);
          else answer();
        });
      });
      upstream.on('error', (error) => {
        entry.status = 502;
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = () => {
    for (const answer of held.splice(0)) answer();
  };
  return {
    url: `http://127.0.0.1:${port}${base.pathname.replace(/\/$/, '')}`,
    log,
    inject(rule) {
      let hit: (r: ProxiedRequest) => void = () => {};
      const promise = new Promise<ProxiedRequest>((resolve) => (hit = resolve));
      rules.push({ rule, left: rule.times ?? 1, hit });
      return { hit: promise };
    },
    release,
    clear() {
      rules.splice(0);
      release();
    },
    close: () =>
      new Promise<void>((resolve) => {
        release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
