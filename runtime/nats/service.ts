import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { Header } from '../../schema/subjects.ts';
import { createFairShare } from './fairShare.ts';
import { withContext } from '../context.ts';
import { recordRequest } from '../metrics.ts';
import { toProblems } from '../problems.ts';
import { encodeJson, errorHeaders, errorStatus, toWireError } from './wire.ts';

/** What a handler gets besides the parsed request. */
export interface HandlerContext {
  headers: MsgHdrs | undefined;
  /** Absolute deadline (epoch ms) the caller set; handlers shrink their own calls to it. */
  deadline: number;
  /** Aborts when the deadline passes. */
  signal: AbortSignal;
  log: Logger;
}

/** One endpoint of a NATS service: subject, contracts on both sides, and the handler. */
export interface EndpointSpec<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  /** Endpoint name in `$SRV.INFO` (no dots). */
  name: string;
  subject: string;
  /** The region an adapter's endpoint serves (the `region` label of its metrics); none for other components. */
  region?: string;
  request: Req;
  reply: Rep;
  handle(request: z.infer<Req>, context: HandlerContext): Promise<z.infer<Rep>>;
}

/** Identity helper so that each endpoint's handler is checked against its own schemas. */
export function endpoint<Req extends z.ZodType, Rep extends z.ZodType>(spec: EndpointSpec<Req, Rep>): EndpointSpec<Req, Rep> {
  return spec;
}

export interface ServiceOptions {
  /** `$SRV` name; no dots. */
  name: string;
  version: string;
  description: string;
  /** Queue group of every endpoint (replicas share the load). */
  queue: string;
  metadata?: Record<string, string>;
  /** Deadline for requests that carry none, milliseconds. Default 10 000. */
  defaultTimeoutMs?: number;
  /**
   * The endpoint whose success means "ready" (e.g. the adapter's vendor health check): `$SRV.STATS` then
   * reports `data: { ready, detail, checkedAt }` for every endpoint, so readiness is read through the
   * services API like everything else about the service.
   */
  readinessEndpoint?: string;
  /**
   * At most this many requests handled at once, shared round-robin between the callers' organisations
   * (`Infrafed-Organization`), so one organisation cannot take all of a region's vendor API. The readiness
   * endpoint is not queued. Default: no limit.
   */
  fairShare?: { maxConcurrent: number };
  log: Logger;
  /** The `component` label of its request metrics; default: the process's (setComponent). */
  component?: string;
}

/**
 * Serves endpoints on the NATS services API (discoverable with `$SRV.PING/INFO/STATS`): requests and
 * replies are parsed by their zod contracts (bad request: BAD_REQUEST; a handler's reply that breaks the
 * contract: INTERNAL, logged), errors travel in the services error headers with a JSON body.
 */
export async function startService(nc: NatsConnection, options: ServiceOptions, endpoints: readonly EndpointSpec[]): Promise<Service> {
  const probe = endpoints.find((e) => e.name === options.readinessEndpoint);
  /** Requests being handled, with their deadlines (epoch ms). */
  const inFlight = new Map<Promise<void>, number>();
  const service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description,
    queue: options.queue,
    metadata: options.metadata ?? {},
    ...(probe
      ? {
          statsHandler: async () => {
            const checkedAt = new Date().toISOString();
            const deadline = Date.now() + 3_000;
            try {
              await probe.handle(probe.request.parse({}), {
                headers: undefined,
                deadline,
                signal: AbortSignal.timeout(3_000),
                log: options.log,
              });
              return { ready: true, detail: null, checkedAt };
            } catch (error) {
              return { ready: false, detail: (error as Error).message, checkedAt };
            }
          },
        }
      : {}),
  });
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  const share = options.fairShare ? createFairShare(options.fairShare.maxConcurrent) : null;
  for (const spec of endpoints) {
    const queued = share && spec.name !== options.readinessEndpoint ? share : null;
    service.addEndpoint(spec.name, {
      subject: spec.subject,
      queue: options.queue,
      handler: (err, msg) => {
        if (err) {
          options.log.error({ err, endpoint: spec.name }, 'endpoint subscription failed');
          return;
        }
        const traceparent = msg.headers?.get(Header.traceparent) || undefined;
        const running = withContext({ traceparent }, () => handleOne(spec, msg, options.log, defaultTimeoutMs, queued, options.component));
        inFlight.set(running, deadlineOf(msg, defaultTimeoutMs));
        void running.finally(() => inFlight.delete(running));
      },
    });
  }
  // stopping takes no new requests (the endpoints unsubscribe) and then waits for the ones in flight, whose
  // replies still go out: the caller drains the connection afterwards
  const stop = service.stop.bind(service);
  service.stop = async (err?: Error) => {
    const stopped = await stop(err);
    // no longer than the latest deadline of what is in flight (its caller gives up then anyway)
    const until = Math.max(0, ...inFlight.values()) - Date.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...inFlight.keys()]), new Promise((r) => (timer = setTimeout(r, Math.max(0, until))))]);
    clearTimeout(timer);
    return stopped;
  };
  return service;
}

/** The request's absolute deadline: the caller's `Infrafed-Deadline`, or now + the service's default. */
function deadlineOf(msg: ServiceMsg, defaultTimeoutMs: number): number {
  const headerDeadline = Number(msg.headers?.get(Header.deadline) ?? '');
  return Number.isFinite(headerDeadline) && headerDeadline > 0 ? headerDeadline : Date.now() + defaultTimeoutMs;
}

async function handleOne(
  spec: EndpointSpec,
  msg: ServiceMsg,
  log: Logger,
  defaultTimeoutMs: number,
  share: ReturnType<typeof createFairShare> | null,
  component: string | undefined,
): Promise<void> {
  const deadline = deadlineOf(msg, defaultTimeoutMs);
  const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  const reqLog = log.child({ endpoint: spec.name });
  reqLog.debug({ subject: msg.subject }, 'request');
  const started = performance.now();
  const region = spec.region ?? '';
  let code = 'OK';
  try {
    let body: unknown;
    try {
      body = msg.json();
    } catch {
      throw new InfrafedError(ErrorCode.BAD_REQUEST, 'the request body is not JSON');
    }
    const parsed = spec.request.safeParse(body);
    if (!parsed.success) {
      throw new InfrafedError(ErrorCode.BAD_REQUEST, `the request breaks the ${spec.name} contract`, {
        problems: toProblems(parsed.error, body),
      });
    }
    const handle = () => spec.handle(parsed.data, { headers: msg.headers, deadline, signal, log: reqLog });
    const reply = share ? await share.run(msg.headers?.get(Header.organization) || '', signal, handle) : await handle();
    const checked = spec.reply.safeParse(reply);
    if (!checked.success) {
      reqLog.error({ problems: toProblems(checked.error, reply) }, 'handler reply breaks its contract');
      throw new InfrafedError(ErrorCode.INTERNAL, 'internal error');
    }
    msg.respond(encodeJson(checked.data));
  } catch (error) {
    if (signal.aborted) {
      // the deadline passed: the caller has given up (its own timeout answers it); a late reply would only
      // race that timeout with a misleading error. What the handler ended with is logged all the same: the
      // caller saw only its timeout, and this is where an operator finds why
      code = ErrorCode.REGION_TIMEOUT;
      reqLog.info({ deadline, err: error }, 'deadline passed; no reply');
      return;
    }
    const wire = toWireError(error);
    code = wire.code;
    if (wire.code === ErrorCode.INTERNAL) reqLog.error({ err: error }, 'request failed');
    else if (!(error instanceof InfrafedError))
      reqLog.warn({ err: error, code: wire.code }, 'request failed: NATS or JetStream unavailable');
    else reqLog.debug({ code: wire.code, message: wire.message }, 'request refused');
    respondError(msg, wire);
  } finally {
    const seconds = (performance.now() - started) / 1000;
    reqLog.debug({ code, ms: Math.round(seconds * 1000) }, 'answered');
    recordRequest(spec.name, region, code, seconds, component);
  }
}

function respondError(msg: ServiceMsg, wire: ReturnType<typeof toWireError>): void {
  msg.respondError(errorStatus(wire), wire.message, encodeJson(wire), { headers: errorHeaders(wire) });
}
