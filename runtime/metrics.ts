import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus metrics of a component (one registry per process, served on `/metrics`). Names:
 * - `infrafed_requests_total{component,operation,region,code}`: requests a component served (HTTP route,
 *   GraphQL over HTTP, NATS endpoint); `code` is `OK` or the error code;
 * - `infrafed_request_errors_total{component,operation,region,code}`: the failed ones, by error code;
 * - `infrafed_request_duration_seconds{component,operation,region}`: their latency;
 * - `infrafed_nats_requests_total{target,region,outcome}`: NATS requests this component made
 *   (`outcome` ok, error, no_responders, timeout);
 * - `infrafed_nats_no_responders_total{target,region}`: of those, the ones nobody could answer;
 * - `infrafed_nats_request_duration_seconds{target,region}`;
 * - `infrafed_vendor_requests_total{vendor,region,status}` and `infrafed_vendor_request_duration_seconds{vendor,region}`:
 *   the adapters' calls to Keystone, Neutron, Nova and the OKD API;
 * - `infrafed_gateway_response_cache_total{result}`: what the gateway's response cache did per GraphQL request;
 * - the process metrics of prom-client (`process_*`, `nodejs_*`).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const requestsTotal = new Counter({
  name: 'infrafed_requests_total',
  help: 'Requests served, by outcome code',
  labelNames: ['component', 'operation', 'region', 'code'],
  registers: [registry],
});
/** The gateway's response cache: `hit`, `miss`, `request` (asked fresh: `Cache-Control: no-cache`), `bypass` (a field never kept). */
export const responseCacheTotal = new Counter({
  name: 'infrafed_gateway_response_cache_total',
  help: "GraphQL requests by what the gateway's response cache did",
  labelNames: ['result'],
  registers: [registry],
});
export const requestErrorsTotal = new Counter({
  name: 'infrafed_request_errors_total',
  help: 'Requests that failed, by error code',
  labelNames: ['component', 'operation', 'region', 'code'],
  registers: [registry],
});
export const requestDuration = new Histogram({
  name: 'infrafed_request_duration_seconds',
  help: 'Latency of requests served',
  labelNames: ['component', 'operation', 'region'],
  buckets,
  registers: [registry],
});
export const natsRequestsTotal = new Counter({
  name: 'infrafed_nats_requests_total',
  help: 'NATS requests made, by outcome',
  labelNames: ['target', 'region', 'outcome'],
  registers: [registry],
});
export const natsNoRespondersTotal = new Counter({
  name: 'infrafed_nats_no_responders_total',
  help: 'NATS requests nobody could answer',
  labelNames: ['target', 'region'],
  registers: [registry],
});
export const natsRequestDuration = new Histogram({
  name: 'infrafed_nats_request_duration_seconds',
  help: 'Latency of NATS requests made',
  labelNames: ['target', 'region'],
  buckets,
  registers: [registry],
});
export const vendorRequestsTotal = new Counter({
  name: 'infrafed_vendor_requests_total',
  help: 'Vendor API calls of the adapters, by HTTP status',
  labelNames: ['vendor', 'region', 'status'],
  registers: [registry],
});
export const vendorRequestDuration = new Histogram({
  name: 'infrafed_vendor_request_duration_seconds',
  help: 'Latency of vendor API calls',
  labelNames: ['vendor', 'region'],
  buckets,
  registers: [registry],
});

let component = 'unknown';
/** Names the process's component once at start (the `component` label). */
export function setComponent(name: string): void {
  component = name;
}

/** Records one vendor API call (`service` as the clients name it: `Keystone sto`, `OKD lla`). */
export function recordVendorCall(service: string, status: number, ms: number): void {
  const [vendor = service, region = ''] = service.split(' ');
  vendorRequestsTotal.inc({ vendor, region, status: String(status) });
  vendorRequestDuration.observe({ vendor, region }, ms / 1000);
}

/** Records one served request (`by`: the component that served it, when one process hosts several; else the process's). */
export function recordRequest(operation: string, region: string, code: string, seconds: number, by = component): void {
  requestsTotal.inc({ component: by, operation, region, code });
  if (code !== 'OK') requestErrorsTotal.inc({ component: by, operation, region, code });
  requestDuration.observe({ component: by, operation, region }, seconds);
}
