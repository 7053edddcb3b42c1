import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { adapterEndpoint } from '../../runtime/nats/adapterEndpoint.ts';
import { healthEndpoint, startAdapterService, type AdapterService } from '../shared/adapterKit.ts';
import type { KubeClient } from './client/kubeClient.ts';
import { accessRuleEndpoints } from './endpoints/accessRules.ts';
import { memberEndpoints } from './endpoints/members.ts';
import { projectEndpoints } from './endpoints/projects.ts';
import { quotaEndpoints } from './endpoints/quotas.ts';
import { createOkdContext } from './okdContext.ts';

export interface OkdAdapterDeps {
  nc: NatsConnection;
  region: string;
  kube: KubeClient;
  /** The OpenShift user an organisation's user is; default `{organization}:{user}` (see the region's config). */
  userNameTemplate?: string;
  /** Requests handled at once toward the cluster's API, shared fairly between organisations; default 8. */
  maxConcurrent?: number;
  log: Logger;
  version: string;
}

export type OkdAdapter = AdapterService;

/**
 * The OKD adapter of one region: a NATS service on `infra.v1.<region>.okd.>` (queue group `okd-<region>`)
 * that maps the neutral contract to the Kubernetes and OpenShift APIs: projects (ProjectRequest, labelled
 * namespace), members (RoleBinding of a User or an OpenShift Group to view / edit / admin; a user joins its
 * organisation's Group),
 * access rules (NetworkPolicy), quotas (ResourceQuota). Networks are Neutron's: NOT_SUPPORTED here.
 */
export async function createOkdAdapter(deps: OkdAdapterDeps): Promise<OkdAdapter> {
  const { kube, region } = deps;
  const okd = createOkdContext(kube, region, deps.userNameTemplate);
  const networksNotSupported = (['create', 'get', 'delete', 'list'] as const).map((verb) =>
    adapterEndpoint(region, 'okd', 'network', verb, {
      async handle() {
        throw new InfrafedError(
          ErrorCode.NOT_SUPPORTED,
          `Networks are OpenStack (Neutron) objects: an OKD placement has none (region ${region}); use access rules for its traffic`,
          okd.where,
        );
      },
    }),
  );
  const endpoints = [
    ...projectEndpoints(okd),
    ...memberEndpoints(okd),
    ...accessRuleEndpoints(okd),
    ...quotaEndpoints(okd),
    ...networksNotSupported,
    healthEndpoint(
      region,
      'okd',
      async (signal) => `okd ${(await kube.request<{ gitVersion: string }>('GET', '/version', undefined, { signal })).gitVersion}`,
    ),
  ];
  return startAdapterService(
    {
      nc: deps.nc,
      region,
      platform: 'okd',
      description: `OKD adapter for region ${region}`,
      version: deps.version,
      log: deps.log,
      maxConcurrent: deps.maxConcurrent,
    },
    endpoints,
  );
}
