import type { z } from 'zod';
import {
  adapterContract,
  type AdapterContract,
  type AdapterContractResource,
  type AdapterContractVerb,
} from '../../schema/contracts/adapter.ts';
import type { Platform } from '../../schema/model.ts';
import { adapterSubject } from '../../schema/subjects.ts';
import type { EndpointSpec, HandlerContext } from './service.ts';

/**
 * An adapter's endpoint for one resource and verb of its region: subject, name (`<resource>-<verb>`) and
 * request/reply schemas come from the one contract table (schema/contracts/adapter.ts); only the handler
 * is the adapter's own.
 */
export function adapterEndpoint<R extends AdapterContractResource, V extends AdapterContractVerb<R>>(
  region: string,
  platform: Platform,
  resource: R,
  verb: V,
  spec: {
    handle(request: z.infer<AdapterContract<R, V>['request']>, context: HandlerContext): Promise<z.infer<AdapterContract<R, V>['reply']>>;
  },
): EndpointSpec<AdapterContract<R, V>['request'], AdapterContract<R, V>['reply']> {
  const { request, reply } = adapterContract(resource, verb);
  return {
    name: `${resource}-${verb}`,
    region,
    subject: adapterSubject(region, platform, resource, verb),
    request,
    reply,
    handle: (req, ctx) => spec.handle(req, ctx),
  };
}
