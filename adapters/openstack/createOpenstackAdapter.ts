import type { NatsConnection } from '@nats-io/nats-core';
import { chunked, setBounded } from '../../runtime/bounded.ts';
import type { Logger } from 'pino';
import type { ProjectPlacement } from '../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { ConfigError } from '../../runtime/config.ts';
import { adapterEndpoint } from '../../runtime/nats/adapterEndpoint.ts';
import type { EndpointSpec } from '../../runtime/nats/service.ts';
import { healthEndpoint, perProject, perProjectBatch, startAdapterService, type AdapterService } from '../shared/adapterKit.ts';
import type { CallOptions } from './client/http.ts';
import type { KeystoneActor, KeystoneClient, KeystoneProject } from './client/keystoneClient.ts';
import type { NeutronClient } from './client/neutronClient.ts';
import type { NovaClient } from './client/novaClient.ts';
import { createAccessRuleOps } from './accessRules.ts';
import { createNetworkOps } from './networks.ts';
import { createQuotaOps } from './quotas.ts';
import {
  defaultKeystoneRoles,
  fromKeystoneProject,
  managedKeystoneRoles,
  projectRoleOf,
  projectTag,
  toDomainName,
  toMembers,
  toProjectTags,
  type KeystoneRoleMap,
} from './mapping.ts';

export interface OpenstackAdapterDeps {
  nc: NatsConnection;
  region: string;
  keystone: KeystoneClient;
  /** When the region runs Neutron: a project's Neutron resources are removed before the project. */
  neutron?: NeutronClient;
  /** When the region runs nova-api: compute quotas (cores, RAM, instances). */
  nova?: NovaClient;
  /** Name or id of the external network routers get their gateway on; default: the only one there is. */
  externalNetwork?: string;
  /** Adapter to vendor, per call, milliseconds (default 4000). */
  vendorTimeoutMs?: number;
  /** The Keystone roles each infrafed role gives; default {@link defaultKeystoneRoles} (never Keystone's `admin`). */
  roles?: KeystoneRoleMap;
  /** Requests handled at once toward the vendor APIs, shared fairly between organisations; default 8. */
  maxConcurrent?: number;
  /**
   * How long a replica trusts a project's Keystone id and owner once it has seen them (default 60 s; 0:
   * look the project up by its tag in every request). Both never change while the project lives; only a
   * Keystone project deleted outside infrafed may take this long to be noticed.
   */
  projectCacheMs?: number;
  log: Logger;
  version: string;
}

export type OpenstackAdapter = AdapterService;

/** Project tags per Keystone `tags-any` query (keeps the URL short). */
const TAGS_PER_CALL = 40;

/**
 * The OpenStack adapter of one region: a NATS service on `infra.v1.<region>.openstack.>` (queue group
 * `openstack-<region>`) that maps the neutral contract to Keystone (projects, members), Neutron (networks,
 * access rules, network quotas) and Nova (compute quotas). Creates are idempotent: the project is found by
 * its `ifd-project=` tag, a network by its description marker, a rule by its content, before anything is created.
 */
export async function createOpenstackAdapter(deps: OpenstackAdapterDeps): Promise<OpenstackAdapter> {
  const { keystone, region } = deps;
  const domainIds = new Map<string, string>();

  async function domainId(organization: string, create: boolean, options: CallOptions): Promise<string | null> {
    const known = domainIds.get(organization);
    if (known) return known;
    const name = toDomainName(organization);
    let domain = await keystone.findDomain(name, options);
    if (!domain && create) {
      try {
        domain = await keystone.createDomain(name, `infrafed organization ${organization}`, options);
      } catch (error) {
        // another replica created it at the same moment
        if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
        domain = await keystone.findDomain(name, options);
      }
    }
    if (!domain) return null;
    domainIds.set(organization, domain.id);
    return domain.id;
  }

  /** The project's Keystone project, found by its tag, whoever owns it. */
  async function findTagged(projectId: string, options: CallOptions): Promise<KeystoneProject | null> {
    const found = await keystone.listProjects({ tags: [projectTag(projectId)] }, options);
    return found[0] ?? null;
  }

  /**
   * What a replica knows of projects it has seen: Keystone id and owner, immutable while the project
   * lives. Found ones only (a project created meanwhile by another replica is looked up, never missed);
   * a delete through this replica forgets at once. Reads and writes of other replicas are safe too: the
   * controller sends no step for a deleted project.
   */
  const projectCacheMs = deps.projectCacheMs ?? 60_000;
  const known = new Map<string, { nativeId: string; organization: string; until: number }>();
  function remember(projectId: string, nativeId: string, organization: string): void {
    if (projectCacheMs <= 0) return;
    // bounded: the oldest go first once a replica has seen many projects
    setBounded(known, projectId, { nativeId, organization, until: Date.now() + projectCacheMs }, 10_000);
  }
  function recall(projectId: string): { nativeId: string; organization: string } | null {
    const entry = known.get(projectId);
    if (!entry) return null;
    if (entry.until > Date.now()) return entry;
    known.delete(projectId);
    return null;
  }

  /** The project's Keystone id when it is tagged for `owner`; another organisation's is none of the caller's. */
  async function nativeIdFor(projectId: string, owner: string, options: CallOptions): Promise<string | null> {
    const seen = recall(projectId);
    if (seen) return seen.organization === owner ? seen.nativeId : null;
    const project = await findTagged(projectId, options);
    const placement = project ? fromKeystoneProject(project, region) : null;
    if (!project || !placement) return null;
    remember(projectId, project.id, placement.organization);
    return placement.organization === owner ? project.id : null;
  }

  /** The project's Keystone project when it is tagged for `owner` too; another organisation's is none of the caller's. */
  async function findProject(projectId: string, owner: string, options: CallOptions): Promise<KeystoneProject | null> {
    const project = await findTagged(projectId, options);
    return project && fromKeystoneProject(project, region)?.organization === owner ? project : null;
  }

  function toPlacement(project: KeystoneProject): ProjectPlacement {
    const placement = fromKeystoneProject(project, region);
    if (!placement) throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `Keystone project ${project.id} lost its infrafed tags`, { region });
    return placement;
  }

  /** The project's Keystone id; NOT_FOUND when it has no placement here for `owner`. */
  async function requireProject(projectId: string, owner: string, options: CallOptions): Promise<{ id: string }> {
    const id = await nativeIdFor(projectId, owner, options);
    if (!id)
      throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} has no placement in ${region}`, {
        region,
        platform: 'openstack',
        projectId,
      });
    return { id };
  }

  const roles = deps.roles ?? defaultKeystoneRoles;
  const managed = managedKeystoneRoles(roles);

  /** The Keystone roles infrafed manages that the user or group holds on the project. */
  async function currentRoles(projectNativeId: string, actor: KeystoneActor, options: CallOptions): Promise<string[]> {
    const assignments = await keystone.listProjectAssignments(projectNativeId, options);
    return assignments
      .filter((a) => (actor.kind === 'user' ? a.user : a.group)?.id === actor.id)
      .map((a) => a.role.name)
      .filter((name): name is string => name !== undefined && managed.includes(name));
  }

  /** The user or group in the organisation's domain; created when asked and missing. */
  async function findActor(
    kind: 'user' | 'group',
    name: string,
    domain: string,
    create: boolean,
    options: CallOptions,
  ): Promise<KeystoneActor | null> {
    const find = () => (kind === 'user' ? keystone.findUser(name, domain, options) : keystone.findGroup(name, domain, options));
    let found = await find();
    if (!found && create) {
      try {
        found = kind === 'user' ? await keystone.createUser(name, domain, options) : await keystone.createGroup(name, domain, options);
      } catch (error) {
        // another replica created it at the same moment
        if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
        found = await find();
        if (!found) throw error;
      }
    }
    return found ? { kind, id: found.id } : null;
  }

  await checkRoles();

  /**
   * The Keystone roles of the mapping exist in this cloud: a missing one stops the adapter at start with
   * what to configure, rather than failing the first member added. An unreachable Keystone is not a
   * reason not to start (readiness says it is down); the roles are then checked on first use.
   */
  async function checkRoles(): Promise<void> {
    const missing: string[] = [];
    try {
      for (const name of managed) {
        await keystone.roleId(name).catch((error: unknown) => {
          if (error instanceof InfrafedError && /has no role named/.test(error.message)) missing.push(name);
          else throw error;
        });
      }
    } catch (error) {
      deps.log.warn({ err: error, region }, 'could not check the Keystone roles at start; they are checked on first use');
      return;
    }
    if (missing.length > 0) {
      throw new ConfigError(`Keystone of region ${region}`, [
        `it has no role ${missing.join(', ')}, which the role mapping gives (${JSON.stringify(roles)}): create it, or set regions[].platforms[].roles for ${region} (never Keystone's admin unless you mean cloud-wide admin)`,
      ]);
    }
  }

  const vendorTimeoutMs = deps.vendorTimeoutMs ?? 4_000;
  const quotas = createQuotaOps({ region, neutron: deps.neutron, nova: deps.nova, vendorTimeoutMs });
  const networks = deps.neutron
    ? createNetworkOps({
        neutron: deps.neutron,
        region,
        quotaErrors: quotas.quotaErrors,
        externalNetwork: deps.externalNetwork,
        vendorTimeoutMs,
      })
    : null;
  const rules = deps.neutron
    ? createAccessRuleOps({ neutron: deps.neutron, region, quotaErrors: quotas.quotaErrors, remember: projectCacheMs > 0 })
    : null;

  function needNeutron<T>(ops: T | null): T {
    if (!ops)
      throw new InfrafedError(
        ErrorCode.NOT_SUPPORTED,
        `region ${region} runs no Neutron: networks and access rules are not available there`,
        { region, platform: 'openstack' },
      );
    return ops;
  }

  /**
   * The Keystone projects of a batch, found by their `ifd-project=` tags (a few calls with `tags-any` for a
   * whole page, never an id a caller sends): only what carries the project's tag is the project.
   */
  const nativeIdOf = (options: CallOptions) => async (projectIds: string[]) => {
    const found = new Map<string, { nativeId: string; organization: string }>();
    const unknown: string[] = [];
    for (const projectId of projectIds) {
      const seen = recall(projectId);
      if (seen) found.set(projectId, { nativeId: seen.nativeId, organization: seen.organization });
      else unknown.push(projectId);
    }
    for (const some of chunked(unknown, TAGS_PER_CALL)) {
      const tags = some.map(projectTag);
      for (const p of await keystone.listProjects({ tagsAny: tags }, options)) {
        const placement = fromKeystoneProject(p, region);
        if (placement && unknown.includes(placement.projectId)) {
          found.set(placement.projectId, { nativeId: p.id, organization: placement.organization });
          remember(placement.projectId, p.id, placement.organization);
        }
      }
    }
    return found;
  };

  const endpoints: EndpointSpec[] = [
    adapterEndpoint(region, 'openstack', 'project', 'create', {
      async handle(req, { signal }) {
        const options = { signal };
        const existing = await findTagged(req.projectId, options);
        if (existing && toPlacement(existing).organization !== req.organization) {
          throw new InfrafedError(ErrorCode.CONFLICT, `project ${req.projectId} exists in ${region} for another organisation`, {
            region,
            platform: 'openstack',
          });
        }
        if (existing) {
          // a repeated create finishes what an interrupted one began
          await rules?.ensureGroup(existing.id, options);
          remember(req.projectId, existing.id, req.organization);
          return { placement: toPlacement(existing), created: false };
        }
        const domain = (await domainId(req.organization, true, options)) as string;
        try {
          const project = await keystone.createProject(
            { name: req.name, domainId: domain, description: req.description, tags: toProjectTags(req.projectId, req.organization) },
            options,
          );
          await rules?.ensureGroup(project.id, options);
          remember(req.projectId, project.id, req.organization);
          return { placement: toPlacement(project), created: true };
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.CONFLICT) {
            throw new InfrafedError(
              ErrorCode.CONFLICT,
              `a project named "${req.name}" already exists for ${req.organization} in ${region}`,
              {
                region,
                platform: 'openstack',
                name: req.name,
              },
            );
          }
          throw error;
        }
      },
    }),
    adapterEndpoint(region, 'openstack', 'project', 'get', {
      async handle(req, { signal }) {
        const project = await findProject(req.projectId, req.owner, { signal });
        return { placement: project ? fromKeystoneProject(project, region) : null };
      },
    }),
    adapterEndpoint(region, 'openstack', 'project', 'list', {
      async handle(req, { signal }) {
        const domain = await domainId(req.organization, false, { signal });
        if (!domain) return { placements: [] };
        const projects = await keystone.listProjects({ domainId: domain, tags: ['infrafed'] }, { signal });
        const wanted = req.projectIds ? new Set(req.projectIds) : null;
        const placements = projects
          .map((p) => fromKeystoneProject(p, region))
          .filter((p): p is ProjectPlacement => p !== null && p.organization === req.organization && (!wanted || wanted.has(p.projectId)));
        return { placements };
      },
    }),
    adapterEndpoint(region, 'openstack', 'project', 'delete', {
      async handle(req, { signal, log }) {
        const id = await nativeIdFor(req.projectId, req.owner, { signal });
        if (!id) return { deleted: false };
        known.delete(req.projectId);
        const project = { id };
        // Keystone does not cascade to Neutron: whatever the project owns there would be orphaned
        if (deps.neutron) {
          const removed = await deps.neutron.purgeProject(project.id, { signal });
          log.info({ projectId: req.projectId, nativeId: project.id, removed }, 'neutron resources removed');
        }
        return { deleted: await keystone.deleteProject(project.id, { signal }) };
      },
    }),
    adapterEndpoint(region, 'openstack', 'member', 'add', {
      async handle(req, { signal }) {
        const options = { signal };
        const project = await requireProject(req.projectId, req.owner, options);
        const domain = (await domainId(req.organization, true, options)) as string;
        const actor = (await findActor(req.kind, req.user, domain, true, options)) as KeystoneActor;
        const before = await currentRoles(project.id, actor, options);
        const wanted = roles[req.role];
        for (const name of wanted.filter((n) => !before.includes(n))) {
          await keystone.assignRole(project.id, actor, await keystone.roleId(name, options), options);
        }
        // exactly one infrafed role per member: the Keystone roles of the others go
        for (const name of before.filter((n) => !wanted.includes(n))) {
          await keystone.unassignRole(project.id, actor, await keystone.roleId(name, options), options);
        }
        return {
          member: { projectId: req.projectId, kind: req.kind, user: req.user, organization: req.organization, role: req.role },
          previousRole: projectRoleOf(before, roles),
        };
      },
    }),
    adapterEndpoint(region, 'openstack', 'member', 'remove', {
      async handle(req, { signal }) {
        const options = { signal };
        const project = await requireProject(req.projectId, req.owner, options);
        const domain = await domainId(req.organization, false, options);
        const actor = domain ? await findActor(req.kind, req.user, domain, false, options) : null;
        if (!actor) return { removed: false, previousRole: null };
        const before = await currentRoles(project.id, actor, options);
        for (const name of before) await keystone.unassignRole(project.id, actor, await keystone.roleId(name, options), options);
        return { removed: before.length > 0, previousRole: projectRoleOf(before, roles) };
      },
    }),
    adapterEndpoint(region, 'openstack', 'member', 'list', {
      async handle(req, { signal }) {
        const options = { signal };
        return {
          members: await perProject(req.projects, nativeIdOf(options), async (projectId, id) =>
            toMembers(projectId, await keystone.listProjectAssignments(id, options), roles),
          ),
        };
      },
    }),
    adapterEndpoint(region, 'openstack', 'network', 'create', {
      async handle(req, { signal }) {
        const ops = needNeutron(networks);
        const project = await requireProject(req.projectId, req.owner, { signal });
        return ops.create(req, project.id, { signal });
      },
    }),
    adapterEndpoint(region, 'openstack', 'network', 'get', {
      async handle(req, { signal }) {
        const ops = needNeutron(networks);
        const id = await nativeIdFor(req.projectId, req.owner, { signal });
        return { network: id ? await ops.get(req.projectId, id, req.networkId, { signal }) : null };
      },
    }),
    adapterEndpoint(region, 'openstack', 'network', 'delete', {
      async handle(req, { signal }) {
        const ops = needNeutron(networks);
        const id = await nativeIdFor(req.projectId, req.owner, { signal });
        return { deleted: id ? await ops.delete(id, req.networkId, { signal }) : false };
      },
    }),
    adapterEndpoint(region, 'openstack', 'network', 'list', {
      async handle(req, { signal }) {
        const ops = needNeutron(networks);
        return {
          networks: await perProjectBatch(req.projects, nativeIdOf({ signal }), (projects) => ops.listMany(projects, { signal })),
        };
      },
    }),
    adapterEndpoint(region, 'openstack', 'rule', 'apply', {
      async handle(req, { signal }) {
        const ops = needNeutron(rules);
        const project = await requireProject(req.projectId, req.owner, { signal });
        return ops.apply(req.projectId, project.id, req.rule, { signal });
      },
    }),
    adapterEndpoint(region, 'openstack', 'rule', 'remove', {
      async handle(req, { signal }) {
        const ops = needNeutron(rules);
        const id = await nativeIdFor(req.projectId, req.owner, { signal });
        return id ? ops.remove(id, req.ruleId, { signal }) : { removed: false, rule: null };
      },
    }),
    adapterEndpoint(region, 'openstack', 'rule', 'list', {
      async handle(req, { signal }) {
        const ops = needNeutron(rules);
        return {
          rules: await perProjectBatch(req.projects, nativeIdOf({ signal }), (projects) => ops.listMany(projects, { signal })),
        };
      },
    }),
    adapterEndpoint(region, 'openstack', 'quota', 'get', {
      async handle(req, { signal }) {
        return {
          quotas: await perProjectBatch(req.projects, nativeIdOf({ signal }), (projects) =>
            quotas.getMany(projects, { signal }, { limitsOnly: req.limitsOnly === true }),
          ),
        };
      },
    }),
    adapterEndpoint(region, 'openstack', 'quota', 'set', {
      async handle(req, { signal }) {
        const project = await requireProject(req.projectId, req.owner, { signal });
        return quotas.set(project.id, req.limits, { signal }, req.previous);
      },
    }),
    healthEndpoint(region, 'openstack', async (signal) => {
      await keystone.token();
      return `keystone ${await keystone.version({ signal })}`;
    }),
  ];

  return startAdapterService(
    {
      nc: deps.nc,
      region,
      platform: 'openstack',
      description: `OpenStack adapter for region ${region}`,
      version: deps.version,
      log: deps.log,
      maxConcurrent: deps.maxConcurrent,
    },
    endpoints,
  );
}
