import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { perProject, type ProjectRef } from '../shared/adapterKit.ts';
import type { KubeCallOptions, KubeClient, KubeObject } from './client/kubeClient.ts';
import { DEFAULT_USER_NAME_TEMPLATE, fromNamespace, isTerminating, namespaceName, okdUserName } from './mapping.ts';

export const RBAC = '/apis/rbac.authorization.k8s.io/v1';
export const NETWORKING = '/apis/networking.k8s.io/v1';

/** What every OKD endpoint works with: the cluster's API, the region, and finding a project's namespace. */
export interface OkdContext {
  kube: KubeClient;
  region: string;
  /** `region` and `platform`, for errors. */
  where: { region: string; platform: 'okd' };
  /** The project's namespace here, when it is one infrafed labelled for that project. */
  /** `owner`: the organisation the namespace must be labelled for (a namespace of another organisation is none of the caller's). */
  findNamespace(projectId: string, owner: string, o: KubeCallOptions): Promise<KubeObject | null>;
  /** The namespace's name, or NOT_FOUND. */
  requireNamespace(projectId: string, owner: string, o: KubeCallOptions): Promise<string>;
  /** The OpenShift user an organisation's user is (the region's `userNameTemplate`). */
  userName(organization: string, user: string): string;
  /** Runs `work` for every project of a batch that has a namespace here (found by its derived name and project label), in parallel. */
  perProject<T>(refs: readonly ProjectRef[], signal: AbortSignal, work: (projectId: string, ns: string) => Promise<T[]>): Promise<T[]>;
}

export function createOkdContext(kube: KubeClient, region: string, userNameTemplate = DEFAULT_USER_NAME_TEMPLATE): OkdContext {
  const where = { region, platform: 'okd' as const };
  /** The project's namespace (not Terminating), labelled for the project, with the organisation it is labelled for. */
  async function findLabelled(projectId: string, o: KubeCallOptions): Promise<{ ns: KubeObject; organization: string } | null> {
    const ns = await kube.find(`/api/v1/namespaces/${namespaceName(projectId)}`, o);
    // a namespace being deleted (Terminating, labels intact for a while) is gone for infrafed
    const placement = ns && !isTerminating(ns) ? fromNamespace(ns, region) : null;
    return ns && placement?.projectId === projectId ? { ns, organization: placement.organization } : null;
  }
  async function findNamespace(projectId: string, owner: string, o: KubeCallOptions): Promise<KubeObject | null> {
    const found = await findLabelled(projectId, o);
    return found?.organization === owner ? found.ns : null;
  }
  return {
    kube,
    region,
    where,
    findNamespace,
    userName: (organization, user) => okdUserName(userNameTemplate, organization, user),
    async requireNamespace(projectId, owner, o) {
      const ns = await findNamespace(projectId, owner, o);
      if (!ns) throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} has no placement in ${region}`, { ...where, projectId });
      return ns.metadata.name;
    },
    perProject: (refs, signal, work) =>
      perProject(
        refs,
        async (ids) => {
          const found = await Promise.all(ids.map(async (id) => [id, await findLabelled(id, { signal })] as const));
          return new Map(
            found.flatMap(([id, f]) => (f ? [[id, { nativeId: f.ns.metadata.name, organization: f.organization }] as const] : [])),
          );
        },
        work,
      ),
  };
}
