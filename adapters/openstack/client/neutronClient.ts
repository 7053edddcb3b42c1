import type { Logger } from '../../../runtime/log.ts';
import { mapLimited } from '../../shared/adapterKit.ts';
import { createOpenstackHttp, type CallOptions } from './http.ts';

/** Deletions a project's purge runs at once toward Neutron. */
const PURGE_CONCURRENCY = 4;

export interface NeutronClientOptions {
  /** Neutron base URL, e.g. http://127.0.0.1:9696 */
  url: string;
  token: (fresh: boolean) => Promise<string>;
  timeoutMs: number;
  service: string;
  context: Record<string, unknown>;
  log?: Logger;
}

interface Named {
  id: string;
  name: string;
}
export interface NeutronPort extends Named {
  device_owner: string;
  device_id: string;
}

export interface NeutronQuotaDetail {
  limit: number;
  used: number;
  reserved: number;
}

/** What was removed from a project, per kind (for logs and operation steps). */
export interface NeutronCleanup {
  routers: number;
  ports: number;
  subnets: number;
  networks: number;
  securityGroups: number;
  floatingIps: number;
}

/** Neutron v2.0 with the adapter's service token. */
export function createNeutronClient(options: NeutronClientOptions) {
  const call = createOpenstackHttp({
    service: options.service,
    baseUrl: `${options.url.replace(/\/+$/, '')}/v2.0`,
    timeoutMs: options.timeoutMs,
    token: options.token,
    context: options.context,
    log: options.log,
  });

  /** A collection filtered by `query` (Neutron matches every given field; `tags` must all be present). */
  async function listWhere<T>(
    collection: string,
    query: Record<string, string | readonly string[] | undefined>,
    callOptions: CallOptions = {},
  ): Promise<T[]> {
    const res = await call<Record<string, T[]>>('GET', `/${collection}`, { ...callOptions, query });
    return res.body[collection.replace(/-/g, '_')] ?? [];
  }
  function list<T>(collection: string, projectId: string, callOptions: CallOptions): Promise<T[]> {
    return listWhere<T>(collection, { project_id: projectId }, callOptions);
  }
  /** POST to a collection; the body's single key is the resource (`network`, `subnet`, …). */
  async function create<T>(collection: string, resource: string, body: Record<string, unknown>, callOptions: CallOptions = {}): Promise<T> {
    const res = await call<Record<string, T>>('POST', `/${collection}`, { ...callOptions, body: { [resource]: body } });
    return res.body[resource] as T;
  }
  async function remove(collection: string, id: string, callOptions: CallOptions): Promise<void> {
    await call('DELETE', `/${collection}/${encodeURIComponent(id)}`, { ...callOptions, accept: [204, 404] });
  }

  return {
    call,
    list,
    listWhere,
    create,
    remove,
    /** Limit, use and reservations per Neutron resource of a project. */
    async quotaDetails(projectId: string, callOptions: CallOptions = {}): Promise<Record<string, NeutronQuotaDetail>> {
      const res = await call<{ quota: Record<string, NeutronQuotaDetail> }>(
        'GET',
        `/quotas/${encodeURIComponent(projectId)}/details`,
        callOptions,
      );
      return res.body.quota;
    },
    /** The limits alone (no use counted: several times cheaper than the details). */
    async quotaLimits(projectId: string, callOptions: CallOptions = {}): Promise<Record<string, number>> {
      const res = await call<{ quota: Record<string, number> }>('GET', `/quotas/${encodeURIComponent(projectId)}`, callOptions);
      return res.body.quota;
    },
    /** The limits a project without its own gets. */
    async defaultQuota(projectId: string, callOptions: CallOptions = {}): Promise<Record<string, number>> {
      const res = await call<{ quota: Record<string, number> }>('GET', `/quotas/${encodeURIComponent(projectId)}/default`, callOptions);
      return res.body.quota;
    },
    async setQuota(
      projectId: string,
      quota: Record<string, number | boolean>,
      callOptions: CallOptions = {},
    ): Promise<Record<string, number>> {
      const res = await call<{ quota: Record<string, number> }>('PUT', `/quotas/${encodeURIComponent(projectId)}`, {
        ...callOptions,
        body: { quota },
      });
      return res.body.quota;
    },
    /**
     * Removes everything a project owns in Neutron, in dependency order: floating IPs, router interfaces
     * and gateways, routers, ports, subnets, networks, security groups (the auto-created `default` too).
     * Deleting a Keystone project does not do this, and leftovers would be orphans. Idempotent.
     */
    async purgeProject(projectId: string, callOptions: CallOptions = {}): Promise<NeutronCleanup> {
      const done: NeutronCleanup = { routers: 0, ports: 0, subnets: 0, networks: 0, securityGroups: 0, floatingIps: 0 };
      // independent deletions run side by side (a few at a time): a project with routers fits in one step's time
      const each = <T>(items: T[], fn: (item: T) => Promise<void>) => mapLimited(items, PURGE_CONCURRENCY, fn);
      await each(await list<Named>('floatingips', projectId, callOptions), async (fip) => {
        await remove('floatingips', fip.id, callOptions);
        done.floatingIps++;
      });
      const ports = await list<NeutronPort>('ports', projectId, callOptions);
      const routers = await list<Named & { external_gateway_info?: unknown }>('routers', projectId, callOptions);
      await each(routers, async (router) => {
        for (const port of ports.filter((p) => p.device_id === router.id && p.device_owner.startsWith('network:router_interface'))) {
          await call('PUT', `/routers/${router.id}/remove_router_interface`, {
            ...callOptions,
            body: { port_id: port.id },
            accept: [200, 404],
          });
        }
        if (router.external_gateway_info)
          await call('PUT', `/routers/${router.id}`, {
            ...callOptions,
            body: { router: { external_gateway_info: {} } },
            accept: [200, 404],
          });
        await remove('routers', router.id, callOptions);
        done.routers++;
      });
      // what is left, in dependency order (ports before subnets before networks)
      const rest: [string, keyof NeutronCleanup][] = [
        ['ports', 'ports'],
        ['subnets', 'subnets'],
        ['networks', 'networks'],
        ['security-groups', 'securityGroups'],
      ];
      for (const [collection, counter] of rest) {
        await each(await list<Named>(collection, projectId, callOptions), async (item) => {
          await remove(collection, item.id, callOptions);
          done[counter]++;
        });
      }
      return done;
    },
  };
}
export type NeutronClient = ReturnType<typeof createNeutronClient>;
