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
  const resolvers = {
    Query: {
      async regions() {
        const targets = deps.regions.flatMap((r) => r.platforms.map((platform) => ({ region: r.name, platform })));
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
              };
            const error = failed?.error as InfrafedError;
            const down = error.code === ErrorCode.REGION_UNAVAILABLE && adapters === 0;
            return { platform, status: down ? 'DOWN' : 'DEGRADED', adapters, latencyMs: null, vendorVersion: null, detail: error.message };
          }),
        }));
      },
    },
  };
  const server = createSubgraphServer<SubgraphContext>('catalog', resolvers, deps);
  return { server, context: (headers: HeaderMap) => subgraphContext(headers, deps.verifyToken) };
}
