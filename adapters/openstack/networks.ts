import type { Network, NetworkCreateRequest } from '../../schema/contracts/network.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { CallOptions } from './client/http.ts';
import type { NeutronClient, NeutronPort } from './client/neutronClient.ts';
import { networkIdFromMarker, networkMarker } from './mapping.ts';
import { chunked } from '../../runtime/bounded.ts';
import type { QuotaErrors } from './quotas.ts';

interface NeutronNetwork {
  id: string;
  name: string;
  status: string;
  description: string;
  project_id: string;
}
interface NeutronSubnet {
  id: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
  dns_nameservers: string[];
  description: string;
  project_id: string;
}
interface NeutronRouter {
  id: string;
  status: string;
  description: string;
  project_id: string;
  external_gateway_info: { network_id: string; external_fixed_ips?: { ip_address: string }[] } | null;
}

export interface NetworkOpsDeps {
  neutron: NeutronClient;
  region: string;
  quotaErrors: QuotaErrors;
  /** Name or id of the network routers use as their external gateway; default: the only `router:external` one. */
  externalNetwork?: string;
  /** Per vendor call, milliseconds (cleanup after a failure runs on its own clock, not the caller's). */
  vendorTimeoutMs: number;
}

/** Infrafed networks on Neutron: a network, its subnet and optionally a router with an interface on it. */
/** Neutron objects by the infrafed network id in their description. */
function byMarker<T extends { description: string }>(items: T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) {
    const id = networkIdFromMarker(item.description);
    if (id) map.set(id, item);
  }
  return map;
}

/** Projects named in one Neutron list call (repeated `project_id` filters; the URL stays a few KiB). */
export const PROJECTS_PER_CALL = 40;

export function createNetworkOps(deps: NetworkOpsDeps) {
  const { neutron, region } = deps;

  function toNetwork(
    projectId: string,
    net: NeutronNetwork,
    subnet: NeutronSubnet | undefined,
    router: NeutronRouter | undefined,
  ): Network {
    const gatewayIps = router?.external_gateway_info?.external_fixed_ips ?? [];
    return {
      id: networkIdFromMarker(net.description) as string,
      projectId,
      name: net.name,
      region,
      platform: 'openstack',
      nativeId: net.id,
      status: net.status,
      cidr: subnet?.cidr ?? null,
      gatewayIp: subnet?.gateway_ip ?? null,
      dnsNameservers: subnet?.dns_nameservers ?? [],
      subnetNativeId: subnet?.id ?? null,
      router: router
        ? {
            nativeId: router.id,
            status: router.status,
            external: router.external_gateway_info !== null,
            externalIp: gatewayIps[0]?.ip_address ?? null,
          }
        : null,
    };
  }

  /** The Neutron objects of one infrafed network in a project (found by their description). */
  async function parts(nativeProjectId: string, networkId: string, options: CallOptions) {
    const where = { project_id: nativeProjectId, description: networkMarker(networkId) };
    const [networks, subnets, routers] = await Promise.all([
      neutron.listWhere<NeutronNetwork>('networks', where, options),
      neutron.listWhere<NeutronSubnet>('subnets', where, options),
      neutron.listWhere<NeutronRouter>('routers', where, options),
    ]);
    return { network: networks[0], subnet: subnets[0], router: routers[0], all: { networks, subnets, routers } };
  }

  async function externalNetworkId(options: CallOptions): Promise<string> {
    const external = await neutron.listWhere<NeutronNetwork>('networks', { 'router:external': 'true' }, options);
    const wanted = deps.externalNetwork;
    const candidates = wanted ? external.filter((n) => n.id === wanted || n.name === wanted) : external;
    if (candidates.length === 1) return (candidates[0] as NeutronNetwork).id;
    if (candidates.length === 0) {
      throw new InfrafedError(
        ErrorCode.NOT_SUPPORTED,
        wanted
          ? `region ${region} has no external network "${wanted}"`
          : `region ${region} has no external network: routers there cannot have an external gateway`,
        { region, platform: 'openstack' },
      );
    }
    throw new InfrafedError(
      ErrorCode.UPSTREAM_ERROR,
      `region ${region} has ${candidates.length} external networks and none is configured as the default`,
      { region, platform: 'openstack' },
    );
  }

  /** Removes every Neutron object of the network (router interfaces, router, subnet, network). Idempotent. */
  async function removeParts(nativeProjectId: string, networkId: string, options: CallOptions): Promise<boolean> {
    const { all } = await parts(nativeProjectId, networkId, options);
    for (const router of all.routers) {
      const ports = await neutron.listWhere<NeutronPort>('ports', { device_id: router.id }, options);
      for (const port of ports.filter((p) => p.device_owner.startsWith('network:router_interface'))) {
        await neutron.call('PUT', `/routers/${router.id}/remove_router_interface`, {
          ...options,
          body: { port_id: port.id },
          accept: [200, 404],
        });
      }
      await neutron.remove('routers', router.id, options);
    }
    for (const subnet of all.subnets) await neutron.remove('subnets', subnet.id, options);
    for (const network of all.networks) await neutron.remove('networks', network.id, options);
    return all.networks.length > 0;
  }

  return {
    /**
     * Creates the network, its subnet and (when asked) a router with an interface on the subnet. A retry
     * completes what an earlier attempt left; a failure removes what this network already had, so a
     * failed create leaves nothing behind.
     */
    async create(
      req: NetworkCreateRequest,
      nativeProjectId: string,
      options: CallOptions,
    ): Promise<{ network: Network; created: boolean }> {
      const marker = networkMarker(req.id);
      const externalId = req.router?.external ? await externalNetworkId(options) : null;
      const found = await parts(nativeProjectId, req.id, options);
      const created = !found.network;
      try {
        const network =
          found.network ??
          (await deps.quotaErrors.enrich(nativeProjectId, () =>
            neutron.create<NeutronNetwork>(
              'networks',
              'network',
              { name: req.name, project_id: nativeProjectId, description: marker },
              options,
            ),
          ));
        const subnet =
          found.subnet ??
          (await deps.quotaErrors.enrich(nativeProjectId, () =>
            neutron.create<NeutronSubnet>(
              'subnets',
              'subnet',
              {
                name: req.name,
                project_id: nativeProjectId,
                network_id: network.id,
                description: marker,
                ip_version: req.cidr.includes(':') ? 6 : 4,
                cidr: req.cidr,
                ...(req.gatewayIp ? { gateway_ip: req.gatewayIp } : {}),
                dns_nameservers: req.dnsNameservers,
              },
              options,
            ),
          ));
        let router = found.router;
        if (req.router) {
          router ??= await deps.quotaErrors.enrich(nativeProjectId, () =>
            neutron.create<NeutronRouter>(
              'routers',
              'router',
              {
                name: req.name,
                project_id: nativeProjectId,
                description: marker,
                ...(externalId ? { external_gateway_info: { network_id: externalId } } : {}),
              },
              options,
            ),
          );
          const ports = await neutron.listWhere<NeutronPort & { fixed_ips: { subnet_id: string }[] }>(
            'ports',
            { device_id: router.id },
            options,
          );
          if (!ports.some((p) => p.fixed_ips.some((ip) => ip.subnet_id === subnet.id))) {
            await deps.quotaErrors.enrich(nativeProjectId, () =>
              neutron.call('PUT', `/routers/${(router as NeutronRouter).id}/add_router_interface`, {
                ...options,
                body: { subnet_id: subnet.id },
              }),
            );
          }
        }
        return { network: toNetwork(req.projectId, network, subnet, router), created };
      } catch (error) {
        // on its own clock: the caller's deadline may be what failed
        const cleanup = { signal: AbortSignal.timeout(deps.vendorTimeoutMs * 4) };
        await removeParts(nativeProjectId, req.id, cleanup).catch(() => undefined);
        throw error;
      }
    },

    async get(projectId: string, nativeProjectId: string, networkId: string, options: CallOptions): Promise<Network | null> {
      const found = await parts(nativeProjectId, networkId, options);
      return found.network ? toNetwork(projectId, found.network, found.subnet, found.router) : null;
    },

    /** Removes the network with its subnet and router; false when it did not exist. */
    delete(nativeProjectId: string, networkId: string, options: CallOptions): Promise<boolean> {
      return removeParts(nativeProjectId, networkId, options);
    },

    /**
     * Every infrafed network of a batch of projects: three Neutron calls per {@link PROJECTS_PER_CALL}
     * projects (list filters naming many project ids), however many projects and networks.
     */
    async listMany(projects: { projectId: string; nativeId: string }[], options: CallOptions): Promise<Network[]> {
      const out: Network[] = [];
      for (const chunk of chunked(projects, PROJECTS_PER_CALL)) {
        const where = { project_id: chunk.map((p) => p.nativeId) };
        const [networks, subnets, routers] = await Promise.all([
          neutron.listWhere<NeutronNetwork>('networks', where, options),
          neutron.listWhere<NeutronSubnet>('subnets', where, options),
          neutron.listWhere<NeutronRouter>('routers', where, options),
        ]);
        for (const { projectId, nativeId } of chunk) {
          const own = <T extends { project_id: string }>(items: T[]) => items.filter((x) => x.project_id === nativeId);
          const subnetOf = byMarker(own(subnets));
          const routerOf = byMarker(own(routers));
          out.push(
            ...own(networks)
              .filter((n) => networkIdFromMarker(n.description))
              .map((n) => {
                const id = networkIdFromMarker(n.description) as string;
                return toNetwork(projectId, n, subnetOf.get(id), routerOf.get(id));
              })
              .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)),
          );
        }
      }
      return out;
    },
  };
}
export type NetworkOps = ReturnType<typeof createNetworkOps>;
