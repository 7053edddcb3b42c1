import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import type { Logger } from 'pino';
import {
  healthCheckReply,
  healthCheckRequest,
  memberAddReply,
  memberAddRequest,
  memberListReply,
  memberListRequest,
  memberRemoveReply,
  memberRemoveRequest,
  projectCreateReply,
  projectCreateRequest,
  projectDeleteReply,
  projectDeleteRequest,
  projectGetReply,
  projectGetRequest,
  projectListReply,
  projectListRequest,
  type ProjectPlacement,
} from '../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { ProjectRole } from '../../schema/model.ts';
import { adapterQueue, adapterServiceName, adapterSubject } from '../../schema/subjects.ts';
import { endpoint, startService, type EndpointSpec } from '../../runtime/nats/service.ts';
import type { CallOptions } from './client/http.ts';
import type { KeystoneClient, KeystoneProject } from './client/keystoneClient.ts';
import type { NeutronClient } from './client/neutronClient.ts';
import { fromKeystoneProject, infrafedRoles, isProjectRole, projectTag, strongest, toDomainName, toMembers, toProjectTags } from './mapping.ts';

export interface OpenstackAdapterDeps {
  nc: NatsConnection;
  region: string;
  keystone: KeystoneClient;
  /** When the region runs Neutron: a project's Neutron resources are removed before the project. */
  neutron?: NeutronClient;
  log: Logger;
  version: string;
}

export interface OpenstackAdapter {
  service: Service;
  stop(): Promise<void>;
}

/**
 * The OpenStack adapter of one region: a NATS service on `infra.v1.<region>.openstack.>` (queue group
 * `openstack-<region>`) that maps the neutral contract to Keystone. Creates are idempotent: the project
 * is found by its `ifd-project=` tag before anything is created.
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

  async function findProject(projectId: string, options: CallOptions): Promise<KeystoneProject | null> {
    const found = await keystone.listProjects({ tags: [projectTag(projectId)] }, options);
    return found[0] ?? null;
  }

  function toPlacement(project: KeystoneProject): ProjectPlacement {
    const placement = fromKeystoneProject(project, region);
    if (!placement) throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `Keystone project ${project.id} lost its infrafed tags`, { region });
    return placement;
  }

  async function requireProject(projectId: string, options: CallOptions): Promise<KeystoneProject> {
    const project = await findProject(projectId, options);
    if (!project) throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} has no placement in ${region}`, { region, platform: 'openstack', projectId });
    return project;
  }

  async function currentRoles(projectNativeId: string, userId: string, options: CallOptions): Promise<ProjectRole[]> {
    const assignments = await keystone.listProjectAssignments(projectNativeId, options);
    return assignments.filter((a) => a.user?.id === userId).map((a) => a.role.name).filter(isProjectRole);
  }

  const endpoints: EndpointSpec[] = [
    endpoint({
      name: 'project-create',
      subject: adapterSubject(region, 'openstack', 'project', 'create'),
      request: projectCreateRequest,
      reply: projectCreateReply,
      async handle(req, { signal }) {
        const options = { signal };
        const existing = await findProject(req.projectId, options);
        if (existing) return { placement: toPlacement(existing), created: false };
        const domain = (await domainId(req.organization, true, options)) as string;
        try {
          const project = await keystone.createProject(
            { name: req.name, domainId: domain, description: req.description, tags: toProjectTags(req.projectId, req.organization) },
            options,
          );
          return { placement: toPlacement(project), created: true };
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.CONFLICT) {
            throw new InfrafedError(ErrorCode.CONFLICT, `a project named "${req.name}" already exists for ${req.organization} in ${region}`, {
              region,
              platform: 'openstack',
              name: req.name,
            });
          }
          throw error;
        }
      },
    }),
    endpoint({
      name: 'project-get',
      subject: adapterSubject(region, 'openstack', 'project', 'get'),
      request: projectGetRequest,
      reply: projectGetReply,
      async handle(req, { signal }) {
        const project = await findProject(req.projectId, { signal });
        return { placement: project ? fromKeystoneProject(project, region) : null };
      },
    }),
    endpoint({
      name: 'project-list',
      subject: adapterSubject(region, 'openstack', 'project', 'list'),
      request: projectListRequest,
      reply: projectListReply,
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
    endpoint({
      name: 'project-delete',
      subject: adapterSubject(region, 'openstack', 'project', 'delete'),
      request: projectDeleteRequest,
      reply: projectDeleteReply,
      async handle(req, { signal, log }) {
        const project = await findProject(req.projectId, { signal });
        if (!project) return { deleted: false };
        // Keystone does not cascade to Neutron: whatever the project owns there would be orphaned
        if (deps.neutron) {
          const removed = await deps.neutron.purgeProject(project.id, { signal });
          log.info({ projectId: req.projectId, nativeId: project.id, removed }, 'neutron resources removed');
        }
        return { deleted: await keystone.deleteProject(project.id, { signal }) };
      },
    }),
    endpoint({
      name: 'member-add',
      subject: adapterSubject(region, 'openstack', 'member', 'add'),
      request: memberAddRequest,
      reply: memberAddReply,
      async handle(req, { signal }) {
        const options = { signal };
        const project = await requireProject(req.projectId, options);
        const domain = (await domainId(req.organization, true, options)) as string;
        let user = await keystone.findUser(req.user, domain, options);
        if (!user) {
          try {
            user = await keystone.createUser(req.user, domain, options);
          } catch (error) {
            if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
            user = await keystone.findUser(req.user, domain, options);
            if (!user) throw error;
          }
        }
        const before = await currentRoles(project.id, user.id, options);
        await keystone.assignRole(project.id, user.id, await keystone.roleId(req.role, options), options);
        // exactly one infrafed role per member: changing a role removes the others
        for (const role of before.filter((r) => r !== req.role)) {
          await keystone.unassignRole(project.id, user.id, await keystone.roleId(role, options), options);
        }
        return {
          member: { projectId: req.projectId, user: req.user, organization: req.organization, role: req.role },
          previousRole: strongest(before),
        };
      },
    }),
    endpoint({
      name: 'member-remove',
      subject: adapterSubject(region, 'openstack', 'member', 'remove'),
      request: memberRemoveRequest,
      reply: memberRemoveReply,
      async handle(req, { signal }) {
        const options = { signal };
        const project = await requireProject(req.projectId, options);
        const domain = await domainId(req.organization, false, options);
        const user = domain ? await keystone.findUser(req.user, domain, options) : null;
        if (!user) return { removed: false, previousRole: null };
        const before = await currentRoles(project.id, user.id, options);
        for (const role of infrafedRoles.filter((r) => before.includes(r))) {
          await keystone.unassignRole(project.id, user.id, await keystone.roleId(role, options), options);
        }
        return { removed: before.length > 0, previousRole: strongest(before) };
      },
    }),
    endpoint({
      name: 'member-list',
      subject: adapterSubject(region, 'openstack', 'member', 'list'),
      request: memberListRequest,
      reply: memberListReply,
      async handle(req, { signal }) {
        const options = { signal };
        const perProject = await Promise.all(
          req.projects.map(async ({ projectId, nativeId }) => {
            const id = nativeId ?? (await findProject(projectId, options))?.id;
            return id ? toMembers(projectId, await keystone.listProjectAssignments(id, options)) : [];
          }),
        );
        return { members: perProject.flat() };
      },
    }),
    endpoint({
      name: 'health-check',
      subject: adapterSubject(region, 'openstack', 'health', 'check'),
      request: healthCheckRequest,
      reply: healthCheckReply,
      async handle(_req, { signal }) {
        const started = performance.now();
        await keystone.token();
        const version = await keystone.version({ signal });
        return { region, platform: 'openstack' as const, vendorLatencyMs: Math.round((performance.now() - started) * 10) / 10, vendorVersion: `keystone ${version}` };
      },
    }),
  ];

  const service = await startService(
    deps.nc,
    {
      name: adapterServiceName('openstack'),
      version: deps.version,
      description: `OpenStack adapter for region ${region}`,
      queue: adapterQueue(region, 'openstack'),
      metadata: { region, platform: 'openstack' },
      log: deps.log,
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
