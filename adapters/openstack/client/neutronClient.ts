import { createOpenstackHttp, type CallOptions } from './http.ts';

export interface NeutronClientOptions {
  /** Neutron base URL, e.g. http://127.0.0.1:9696 */
  url: string;
  token: (fresh: boolean) => Promise<string>;
  timeoutMs: number;
  service: string;
  context: Record<string, unknown>;
}

interface Named {
  id: string;
  name: string;
}
export interface NeutronPort extends Named {
  device_owner: string;
  device_id: string;
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
  const call = createOpenstackHttp({ service: options.service, baseUrl: `${options.url.replace(/\/+$/, '')}/v2.0`, timeoutMs: options.timeoutMs, token: options.token, context: options.context });

  async function list<T>(collection: string, projectId: string, callOptions: CallOptions): Promise<T[]> {
    const res = await call<Record<string, T[]>>('GET', `/${collection}`, { ...callOptions, query: { project_id: projectId } });
    return res.body[collection.replace(/-/g, '_')] ?? [];
  }
  async function remove(collection: string, id: string, callOptions: CallOptions): Promise<void> {
    await call('DELETE', `/${collection}/${encodeURIComponent(id)}`, { ...callOptions, accept: [204, 404] });
  }

  return {
    call,
    list,
    /**
     * Removes everything a project owns in Neutron, in dependency order: floating IPs, router interfaces
     * and gateways, routers, ports, subnets, networks, security groups (the auto-created `default` too).
     * Deleting a Keystone project does not do this, and leftovers would be orphans. Idempotent.
     */
    async purgeProject(projectId: string, callOptions: CallOptions = {}): Promise<NeutronCleanup> {
      const done: NeutronCleanup = { routers: 0, ports: 0, subnets: 0, networks: 0, securityGroups: 0, floatingIps: 0 };
      for (const fip of await list<Named>('floatingips', projectId, callOptions)) {
        await remove('floatingips', fip.id, callOptions);
        done.floatingIps++;
      }
      const ports = await list<NeutronPort>('ports', projectId, callOptions);
      for (const router of await list<Named>('routers', projectId, callOptions)) {
        for (const port of ports.filter((p) => p.device_id === router.id && p.device_owner.startsWith('network:router_interface'))) {
          await call('PUT', `/routers/${router.id}/remove_router_interface`, { ...callOptions, body: { port_id: port.id }, accept: [200, 404] });
        }
        await call('PUT', `/routers/${router.id}`, { ...callOptions, body: { router: { external_gateway_info: {} } }, accept: [200, 404] });
        await remove('routers', router.id, callOptions);
        done.routers++;
      }
      // what is left, in dependency order (ports before subnets before networks)
      const rest: [string, keyof NeutronCleanup][] = [
        ['ports', 'ports'],
        ['subnets', 'subnets'],
        ['networks', 'networks'],
        ['security-groups', 'securityGroups'],
      ];
      for (const [collection, counter] of rest) {
        for (const item of await list<Named>(collection, projectId, callOptions)) {
          await remove(collection, item.id, callOptions);
          done[counter]++;
        }
      }
      return done;
    },
  };
}
export type NeutronClient = ReturnType<typeof createNeutronClient>;
