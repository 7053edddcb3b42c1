import type { HeaderMap } from '@apollo/server';
import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm } from '@nats-io/services';
import { ErrorCode, type InfrafedError } from '../../schema/errors.ts';
import type { Platform } from '../../schema/model.ts';
import { adapterServiceName } from '../../schema/subjects.ts';
import { requestAdapter } from '../../runtime/nats/adapterClient.ts';
import { fanOut } from '../../runtime/nats/request.ts';
import { subgraphContext, type SubgraphContext } from '../shared/subgraphContext.ts';
import { createSubgraphServer, type SubgraphDeps } from '../shared/subgraphMain.ts';

export interface CatalogSubgraphOptions {
  /** Health check per platform, milliseconds (default 2 000). */
  healthTimeoutMs?: number;
  /** Discovery ends this long after the last adapter answered `$SRV.PING`, milliseconds (default 100). */
  discoveryStallMs?: number;
  /** How often discovery and the health checks run in the background, milliseconds (default 2 000). */
  refreshMs?: number;
}

/** Counts adapter replicas per region/platform with `$SRV.PING` (a broadcast: the set of replicas is not known in advance). */
async function discoverAdapters(nc: NatsConnection, platforms: readonly Platform[], stallMs: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const client = new Svcm(nc).client({ strategy: 'stall', stall: stallMs, maxWait: 1_000 });
  await Promise.all(
    platforms.map(async (platform) => {
      for await (const identity of await client.ping(adapterServiceName(platform))) {
        const key = `${identity.metadata?.region}/${platform}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

/** The catalog subgraph: configured regions and platforms with live health. */
export function createCatalogSubgraph(
  deps: Pick<SubgraphDeps, 'nc' | 'controller' | 'regions' | 'verifyToken' | 'log'>,
  options: CatalogSubgraphOptions = {},
) {
  const healthTimeoutMs = options.healthTimeoutMs ?? 2_000;
  const refreshMs = options.refreshMs ?? 2_000;
  const targets = deps.regions.flatMap((r) => r.platforms.map((platform) => ({ region: r.name, platform })));
  /** One look at every region and platform: replicas by `$SRV.PING`, health by a check through each adapter. */
  async function look() {
    const checkedAt = new Date().toISOString();
    const [counts, health] = await Promise.all([
      discoverAdapters(deps.nc, [...new Set(targets.map((t) => t.platform))], options.discoveryStallMs ?? 100).catch(
        () => new Map<string, number>(),
      ),
      fanOut(targets, (t) => requestAdapter(deps.nc, t, 'health', 'check', {}, { timeoutMs: healthTimeoutMs })),
    ]);
    return deps.regions.map((r) => ({
      name: r.name,
      displayName: r.displayName,
      platforms: r.platforms.map((platform) => {
        const key = `${r.name}/${platform}`;
        const ok = health.ok.find((h) => h.target.region === r.name && h.target.platform === platform);
        const failed = health.failed.find((h) => h.target.region === r.name && h.target.platform === platform);
        const adapters = counts.get(key) ?? 0;
        if (ok)
          return {
            platform,
            status: 'UP',
            adapters: Math.max(adapters, 1),
            latencyMs: ok.value.vendorLatencyMs,
            vendorVersion: ok.value.vendorVersion,
            detail: null,
            checkedAt,
          };
        const error = failed?.error as InfrafedError;
        const down = error.code === ErrorCode.REGION_UNAVAILABLE && adapters === 0;
        return {
          platform,
          status: down ? 'DOWN' : 'DEGRADED',
          adapters,
          latencyMs: null,
          vendorVersion: null,
          detail: error.message,
          checkedAt,
        };
      }),
    }));
  }
  // kept fresh in the background: a request never waits for discovery (only the very first, for the first look)
  let view: Promise<Awaited<ReturnType<typeof look>>> = look();
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    const next = look();
    next
      .then(() => (view = next))
      .catch((error: unknown) => deps.log.warn({ err: error }, 'region status: the look failed; the last one stays'))
      .finally(() => (looking = false));
  }, refreshMs);
  timer.unref();
  const resolvers = {
    Query: {
      regions: () => view,
    },
  };
  const server = createSubgraphServer<SubgraphContext>('catalog', resolvers, deps);
  return { server, context: (headers: HeaderMap) => subgraphContext(headers, deps.verifyToken) };
}
