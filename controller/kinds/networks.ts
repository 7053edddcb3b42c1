import { Permission } from '../../schema/access.ts';
import { setBounded } from '../../runtime/bounded.ts';
import type { Network } from '../../schema/contracts/network.ts';
import type { Amounts } from '../../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { Placement } from '../../schema/model.ts';
import type { ProjectRecord } from '../../schema/operations.ts';
import { fanOut } from '../../runtime/nats/request.ts';
import { activeProject } from '../permissions.ts';
import { reserveObjects } from '../reservations.ts';
import { defineKind, ownerOf, type KindContext } from './kind.ts';
import { openstackIn } from './placements.ts';

/**
 * Where this replica placed or found each network (its id → the placement's region): a network never moves,
 * so a delete asks that placement first and the others only if it is not there. A hint, never the answer:
 * another replica, or a restart, asks every placement as before. At most `NETWORK_HINTS` entries (oldest
 * dropped first).
 */
const networkRegions = new Map<string, string>();
const NETWORK_HINTS = 10_000;
const rememberNetworkRegion = (networkId: string, region: string) => setBounded(networkRegions, networkId, region, NETWORK_HINTS);

/** Which of the project's OpenStack placements holds the network, and the network: the remembered one first, else all in parallel. */
async function placementOfNetwork(
  ctx: KindContext,
  record: ProjectRecord,
  networkId: string,
): Promise<{ placement: Placement; network: Network }> {
  const candidates = record.placements.filter((p) => p.platform === 'openstack');
  const get = (p: Placement) => ctx.call(p, 'network', 'get', { projectId: record.projectId, owner: record.organization, networkId });
  const hinted = candidates.find((p) => p.region === networkRegions.get(networkId));
  if (hinted) {
    const { network } = await get(hinted);
    if (network) return { placement: hinted, network };
  }
  const asked = await fanOut(
    candidates.filter((p) => p !== hinted),
    get,
  );
  const found = asked.ok.find((r) => r.value.network !== null);
  if (found?.value.network) {
    rememberNetworkRegion(networkId, found.target.region);
    return { placement: found.target, network: found.value.network };
  }
  // a region that did not answer may hold it: say so rather than "not found"
  if (asked.failed[0]) throw asked.failed[0].error;
  throw new InfrafedError(ErrorCode.NOT_FOUND, `network ${networkId} not found in project ${record.projectId}`);
}

/** A Neutron network + subnet (+ router) in the project's OpenStack placement of one region. */
export const CREATE_NETWORK = defineKind({
  kind: 'CREATE_NETWORK',
  permission: Permission.manageNetworks,
  action: 'network.create',
  takeover: 'rollback',
  target: (op) => ({ type: 'network', id: op.resourceId ?? '', role: null }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission);
    const objects: Amounts = { networks: 1, subnets: 1, ...(request.input.router ? { routers: 1 } : {}) };
    const placement = openstackIn(record, request.input.region);
    const resourceId = ctx.newId('net');
    return { projectId: record.projectId, owner: record.organization, placements: [placement], resourceId, objects };
  },
  accept: (ctx, op) => reserveObjects(ctx.ledger, op),
  steps(ctx, op) {
    const { projectId, name, cidr, gatewayIp, dnsNameservers, router } = op.request.input;
    const networkId = op.resourceId as string;
    return {
      async forward(step) {
        const body = {
          id: networkId,
          projectId,
          owner: ownerOf(op),
          name,
          cidr,
          gatewayIp: gatewayIp ?? null,
          dnsNameservers,
          router: router ? { external: router.external } : null,
        };
        const res = await ctx.call(step, 'network', 'create', body);
        // remembered once it exists (not when planned: a refused create leaves no hint)
        rememberNetworkRegion(networkId, step.region);
        return { nativeId: res.network.nativeId, changed: res.created };
      },
      async undo(step) {
        await ctx.call(step, 'network', 'delete', { projectId, owner: ownerOf(op), networkId });
      },
    };
  },
});

/** The network, its subnet and router removed; a failure is finished by deleting again. */
export const DELETE_NETWORK = defineKind({
  kind: 'DELETE_NETWORK',
  permission: Permission.manageNetworks,
  action: 'network.delete',
  takeover: 'forward',
  target: (op) => ({ type: 'network', id: op.request.input.networkId, role: null }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission);
    const { placement, network } = await placementOfNetwork(ctx, record, request.input.networkId);
    const objects: Amounts = {
      networks: -1,
      ...(network.subnetNativeId ? { subnets: -1 } : {}),
      ...(network.router ? { routers: -1 } : {}),
    };
    return {
      projectId: record.projectId,
      owner: record.organization,
      placements: [placement],
      resourceId: request.input.networkId,
      objects,
    };
  },
  steps(ctx, op) {
    const { projectId, networkId } = op.request.input;
    return {
      async forward(step) {
        const res = await ctx.call(step, 'network', 'delete', { projectId, owner: ownerOf(op), networkId });
        networkRegions.delete(networkId);
        return { changed: res.deleted };
      },
    };
  },
});
