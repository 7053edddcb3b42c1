import type { Member } from '../../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../../schema/errors.ts';
import { adapterEndpoint } from '../../../runtime/nats/adapterEndpoint.ts';
import type { EndpointSpec } from '../../../runtime/nats/service.ts';
import { retryOnConflict, type KubeCallOptions, type KubeObject } from '../client/kubeClient.ts';
import {
  Annotation,
  clusterRoleOf,
  groupName,
  Label,
  memberGroupName,
  refuseForeign,
  roleBindingName,
  roleFromClusterRole,
} from '../mapping.ts';
import { RBAC, type OkdContext } from '../okdContext.ts';

interface RoleBindingBody {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: string; apiGroup: string; name: string }[];
}
/** Members: a RoleBinding of a User or an OpenShift Group to view / edit / admin; a user joins its organisation's Group. */
export function memberEndpoints(okd: OkdContext): EndpointSpec[] {
  const { kube } = okd;
  function toMember(projectId: string, binding: KubeObject<RoleBindingBody>): Member | null {
    const role = roleFromClusterRole(binding.roleRef?.name);
    const organization = binding.metadata.labels?.[Label.memberOrg];
    const user = binding.metadata.annotations?.[Annotation.user];
    const kind = binding.metadata.labels?.[Label.memberKind] === 'group' ? 'group' : 'user';
    return role && organization && user ? { projectId, kind, user, organization, role } : null;
  }

  /** An organisation's group as an OpenShift Group (created empty when missing: the identity provider fills it). */
  async function ensureMemberGroup(organization: string, group: string, o: KubeCallOptions): Promise<string> {
    const name = memberGroupName(organization, group);
    const existing = await kube.find(`/apis/user.openshift.io/v1/groups/${name}`, o);
    if (existing) {
      refuseForeign(existing, organization, 'the OpenShift Group', okd.where);
      return name;
    }
    try {
      await kube.create(
        '/apis/user.openshift.io/v1/groups',
        {
          apiVersion: 'user.openshift.io/v1',
          kind: 'Group',
          metadata: { name, labels: { [Label.managed]: 'true', [Label.org]: organization } },
          users: [],
        },
        o,
      );
    } catch (error) {
      if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
      // made at the same moment: by another replica for this organisation, or by someone else
      refuseForeign(await kube.get(`/apis/user.openshift.io/v1/groups/${name}`, o), organization, 'the OpenShift Group', okd.where);
    }
    return name;
  }

  /** The user joins its organisation's Group (created on first use); read-modify-write with resourceVersion. */
  function joinGroup(organization: string, user: string, o: KubeCallOptions): Promise<void> {
    const path = `/apis/user.openshift.io/v1/groups/${groupName(organization)}`;
    return retryOnConflict(async () => {
      const group = await kube.find<{ users: string[] }>(path, o);
      if (group) refuseForeign(group, organization, 'the OpenShift Group', okd.where);
      if (!group) {
        await kube.create(
          '/apis/user.openshift.io/v1/groups',
          {
            apiVersion: 'user.openshift.io/v1',
            kind: 'Group',
            metadata: { name: groupName(organization), labels: { [Label.managed]: 'true', [Label.org]: organization } },
            users: [user],
          },
          o,
        );
      } else if (!(group.users ?? []).includes(user)) {
        await kube.replace(path, { ...group, users: [...(group.users ?? []), user] }, o);
      }
    });
  }

  return [
    adapterEndpoint(okd.region, 'okd', 'member', 'add', {
      async handle(req, { signal }) {
        const o = { signal };
        const ns = await okd.requireNamespace(req.projectId, req.owner, o);
        const subject =
          req.kind === 'group'
            ? { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: await ensureMemberGroup(req.organization, req.user, o) }
            : { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: okd.userName(req.organization, req.user) };
        if (req.kind === 'user') await joinGroup(req.organization, subject.name, o);
        const name = roleBindingName(req.organization, req.user, req.kind);
        const path = `${RBAC}/namespaces/${ns}/rolebindings`;
        const existing = await okd.kube.find<RoleBindingBody>(`${path}/${name}`, o);
        if (existing) refuseForeign(existing, req.organization, 'the RoleBinding', okd.where);
        const previousRole = existing ? (toMember(req.projectId, existing)?.role ?? null) : null;
        if (previousRole !== req.role) {
          // a RoleBinding's roleRef cannot change: a new role is a new binding
          if (existing) await okd.kube.remove(`${path}/${name}`, o);
          await okd.kube.create(
            path,
            {
              apiVersion: 'rbac.authorization.k8s.io/v1',
              kind: 'RoleBinding',
              metadata: {
                name,
                labels: { [Label.managed]: 'true', [Label.memberOrg]: req.organization, [Label.memberKind]: req.kind },
                annotations: { [Annotation.user]: req.user },
              },
              roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRoleOf[req.role] },
              subjects: [subject],
            },
            o,
          );
        }
        return {
          member: { projectId: req.projectId, kind: req.kind, user: req.user, organization: req.organization, role: req.role },
          previousRole,
        };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'member', 'remove', {
      async handle(req, { signal }) {
        const o = { signal };
        const ns = await okd.requireNamespace(req.projectId, req.owner, o);
        const path = `${RBAC}/namespaces/${ns}/rolebindings/${roleBindingName(req.organization, req.user, req.kind)}`;
        const existing = await okd.kube.find<RoleBindingBody>(path, o);
        if (!existing) return { removed: false, previousRole: null };
        refuseForeign(existing, req.organization, 'the RoleBinding', okd.where);
        await okd.kube.remove(path, o);
        return { removed: true, previousRole: toMember(req.projectId, existing)?.role ?? null };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'member', 'list', {
      async handle(req, { signal }) {
        const members = await okd.perProject(req.projects, signal, async (projectId, ns) => {
          const bindings = await okd.kube.list<RoleBindingBody>(`${RBAC}/namespaces/${ns}/rolebindings`, Label.memberOrg, { signal });
          return bindings.map((b) => toMember(projectId, b)).filter((m): m is Member => m !== null);
        });
        return {
          members: members.sort(
            (a, b) => a.organization.localeCompare(b.organization) || a.kind.localeCompare(b.kind) || a.user.localeCompare(b.user),
          ),
        };
      },
    }),
  ];
}
