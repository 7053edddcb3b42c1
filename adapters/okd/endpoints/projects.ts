import type { ProjectPlacement } from '../../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../../schema/errors.ts';
import { adapterEndpoint } from '../../../runtime/nats/adapterEndpoint.ts';
import type { EndpointSpec } from '../../../runtime/nats/service.ts';
import { retryOnConflict, type KubeCallOptions, type KubeObject } from '../client/kubeClient.ts';
import { Annotation, fromNamespace, isTerminating, Label, namespaceName, refuseForeign } from '../mapping.ts';
import type { OkdContext } from '../okdContext.ts';

/** Projects: an OpenShift Project made through a ProjectRequest, its namespace labelled with the project and organisation. */
export function projectEndpoints(okd: OkdContext): EndpointSpec[] {
  /** Puts the infrafed labels and annotations on the namespace (a ProjectRequest cannot carry them). */
  function label(name: string, req: { projectId: string; organization: string; name: string }, o: KubeCallOptions): Promise<KubeObject> {
    return retryOnConflict(async () => {
      const ns = await okd.kube.get(`/api/v1/namespaces/${name}`, o);
      ns.metadata.labels = {
        ...ns.metadata.labels,
        [Label.managed]: 'true',
        [Label.project]: req.projectId,
        [Label.org]: req.organization,
      };
      ns.metadata.annotations = { ...ns.metadata.annotations, [Annotation.name]: req.name };
      return okd.kube.replace(`/api/v1/namespaces/${name}`, ns, o);
    });
  }

  return [
    adapterEndpoint(okd.region, 'okd', 'project', 'create', {
      async handle(req, { signal }) {
        const o = { signal };
        const name = namespaceName(req.projectId);
        const existing = await okd.kube.find(`/api/v1/namespaces/${name}`, o);
        if (existing && isTerminating(existing)) {
          // the namespace of an earlier placement of this project is still being deleted: its name is taken until then
          throw new InfrafedError(ErrorCode.CONFLICT, `the namespace ${name} is still being deleted in ${okd.region}; try again shortly`, {
            ...okd.where,
            name,
          });
        }
        const placement = existing && fromNamespace(existing, okd.region);
        // a namespace of this name labelled for another organisation is never taken over
        if (placement && placement.organization !== req.organization) refuseForeign(existing, req.organization, 'the namespace', okd.where);
        if (placement) return { placement, created: false };
        if (!existing) {
          try {
            await okd.kube.create(
              '/apis/project.openshift.io/v1/projectrequests',
              {
                apiVersion: 'project.openshift.io/v1',
                kind: 'ProjectRequest',
                metadata: { name },
                displayName: req.name,
                description: req.description,
              },
              o,
            );
          } catch (error) {
            // another replica made it at the same moment: label it like ours
            if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
          }
        }
        // an earlier attempt may have made the project and stopped before labelling it
        const labelled = await label(name, req, o);
        return { placement: fromNamespace(labelled, okd.region) as ProjectPlacement, created: !existing };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'project', 'get', {
      async handle(req, { signal }) {
        const ns = await okd.findNamespace(req.projectId, req.owner, { signal });
        return { placement: ns ? fromNamespace(ns, okd.region) : null };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'project', 'list', {
      async handle(req, { signal }) {
        const namespaces = await okd.kube.list('/api/v1/namespaces', `${Label.managed}=true,${Label.org}=${req.organization}`, { signal });
        const wanted = req.projectIds ? new Set(req.projectIds) : null;
        return {
          placements: namespaces
            .filter((ns) => !isTerminating(ns))
            .map((ns) => fromNamespace(ns, okd.region))
            .filter(
              (p): p is ProjectPlacement => p !== null && p.organization === req.organization && (!wanted || wanted.has(p.projectId)),
            ),
        };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'project', 'delete', {
      async handle(req, { signal }) {
        const ns = await okd.findNamespace(req.projectId, req.owner, { signal });
        // deleting the project deletes its namespace and everything in it (RoleBindings, NetworkPolicies, ResourceQuota)
        return { deleted: ns ? await okd.kube.remove(`/apis/project.openshift.io/v1/projects/${ns.metadata.name}`, { signal }) : false };
      },
    }),
  ];
}
