import type { z } from 'zod';
import * as identity from './identity.ts';
import * as network from './network.ts';
import * as quota from './quota.ts';

/**
 * Every request an adapter answers, by resource and verb (its subject: `adapterSubject(region, platform,
 * resource, verb)`): the one table both sides use, adapters to declare their endpoints and callers to
 * check what they send and parse what comes back.
 */
export const adapterContracts = {
  project: {
    create: { request: identity.projectCreateRequest, reply: identity.projectCreateReply },
    get: { request: identity.projectGetRequest, reply: identity.projectGetReply },
    list: { request: identity.projectListRequest, reply: identity.projectListReply },
    delete: { request: identity.projectDeleteRequest, reply: identity.projectDeleteReply },
  },
  member: {
    add: { request: identity.memberAddRequest, reply: identity.memberAddReply },
    remove: { request: identity.memberRemoveRequest, reply: identity.memberRemoveReply },
    list: { request: identity.memberListRequest, reply: identity.memberListReply },
  },
  network: {
    create: { request: network.networkCreateRequest, reply: network.networkCreateReply },
    get: { request: network.networkGetRequest, reply: network.networkGetReply },
    list: { request: network.networkListRequest, reply: network.networkListReply },
    delete: { request: network.networkDeleteRequest, reply: network.networkDeleteReply },
  },
  rule: {
    apply: { request: network.ruleApplyRequest, reply: network.ruleApplyReply },
    remove: { request: network.ruleRemoveRequest, reply: network.ruleRemoveReply },
    list: { request: network.ruleListRequest, reply: network.ruleListReply },
  },
  quota: {
    get: { request: quota.quotaGetRequest, reply: quota.quotaGetReply },
    set: { request: quota.quotaSetRequest, reply: quota.quotaSetReply },
  },
  health: {
    check: { request: identity.healthCheckRequest, reply: identity.healthCheckReply },
  },
} as const;

type Contracts = typeof adapterContracts;
export type AdapterContractResource = keyof Contracts;
export type AdapterContractVerb<R extends AdapterContractResource> = keyof Contracts[R] & string;
export type AdapterContract<R extends AdapterContractResource, V extends AdapterContractVerb<R>> = Contracts[R][V] extends {
  request: infer Q extends z.ZodType;
  reply: infer P extends z.ZodType;
}
  ? { request: Q; reply: P }
  : never;

export function adapterContract<R extends AdapterContractResource, V extends AdapterContractVerb<R>>(
  resource: R,
  verb: V,
): AdapterContract<R, V> {
  return (adapterContracts[resource] as Record<string, unknown>)[verb] as AdapterContract<R, V>;
}
