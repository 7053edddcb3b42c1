import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import type { Logger } from 'pino';
import type { Platform } from '../../schema/model.ts';
import { adapterQueue, adapterServiceName } from '../../schema/subjects.ts';
import { adapterEndpoint } from '../../runtime/nats/adapterEndpoint.ts';
import { startService, type EndpointSpec } from '../../runtime/nats/service.ts';

/** A project of a batch request, and the organisation that owns it. */
export interface ProjectRef {
  projectId: string;
  organization: string;
}

/** Vendor calls one batch request of an adapter keeps in flight at most (per-project work such as quota reads). */
export const PER_PROJECT_CONCURRENCY = 8;

/**
 * Runs `work` for every project of a batch that has a placement here owned by the organisation the
 * caller names, at most {@link PER_PROJECT_CONCURRENCY} at a time (a page of 500 projects must not put
 * 500 calls on a vendor at once); other projects contribute nothing. `nativesOf` finds the native
 * objects by the projects' tags or labels (only the adapter's own look-up decides which native object is
 * a project's) with the organisation each is tagged for.
 */
export async function perProject<T>(
  refs: readonly ProjectRef[],
  nativesOf: (projectIds: string[]) => Promise<Map<string, { nativeId: string; organization: string }>>,
  work: (projectId: string, nativeId: string) => Promise<T[]>,
): Promise<T[]> {
  const owned = await ownedNatives(refs, nativesOf);
  return (await mapLimited(owned, PER_PROJECT_CONCURRENCY, ({ projectId, nativeId }) => work(projectId, nativeId))).flat();
}

/** `fn` over every item, at most `limit` at a time; the answers in the items' order. */
export async function mapLimited<I, O>(items: readonly I[], limit: number, fn: (item: I) => Promise<O>): Promise<O[]> {
  const out: O[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as I);
      }
    }),
  );
  return out;
}

/** Like {@link perProject}, for work that takes the whole batch in one go (vendor list calls filtered by many projects). */
export async function perProjectBatch<T>(
  refs: readonly ProjectRef[],
  nativesOf: (projectIds: string[]) => Promise<Map<string, { nativeId: string; organization: string }>>,
  work: (projects: { projectId: string; nativeId: string }[]) => Promise<T[]>,
): Promise<T[]> {
  const owned = await ownedNatives(refs, nativesOf);
  return owned.length === 0 ? [] : work(owned);
}

async function ownedNatives(
  refs: readonly ProjectRef[],
  nativesOf: (projectIds: string[]) => Promise<Map<string, { nativeId: string; organization: string }>>,
): Promise<{ projectId: string; nativeId: string }[]> {
  const owners = new Map(refs.map((r) => [r.projectId, r.organization]));
  const native = await nativesOf([...owners.keys()]);
  return [...native]
    .filter(([projectId, n]) => owners.get(projectId) === n.organization)
    .map(([projectId, n]) => ({ projectId, nativeId: n.nativeId }));
}

/** The health check of an adapter: one live vendor call (`probe` answers the vendor's version), timed. */
export function healthEndpoint(region: string, platform: Platform, probe: (signal: AbortSignal) => Promise<string>): EndpointSpec {
  return adapterEndpoint(region, platform, 'health', 'check', {
    async handle(_req, { signal }) {
      const started = performance.now();
      const vendorVersion = await probe(signal);
      return { region, platform, vendorLatencyMs: Math.round((performance.now() - started) * 10) / 10, vendorVersion };
    },
  });
}

export interface AdapterService {
  service: Service;
  stop(): Promise<void>;
}

/**
 * Serves an adapter's endpoints as the NATS service of its platform in its region (queue group
 * `<platform>-<region>`, readiness from the health check).
 */
export async function startAdapterService(
  options: {
    nc: NatsConnection;
    region: string;
    platform: Platform;
    description: string;
    version: string;
    log: Logger;
    /** Requests handled at once, shared fairly between organisations; default 8. */
    maxConcurrent?: number;
  },
  endpoints: EndpointSpec[],
): Promise<AdapterService> {
  const { region, platform } = options;
  const service = await startService(
    options.nc,
    {
      name: adapterServiceName(platform),
      version: options.version,
      description: options.description,
      queue: adapterQueue(region, platform),
      metadata: { region, platform },
      log: options.log,
      // named here too: the all-in-one mode hosts every adapter in one worker (one process-wide label would be the last one's)
      component: `adapter-${platform}`,
      readinessEndpoint: 'health-check',
      fairShare: { maxConcurrent: options.maxConcurrent ?? 8 },
    },
    endpoints,
  );
  return {
    service,
    async stop() {
      await service.stop();
    },
  };
}
