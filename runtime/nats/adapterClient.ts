import type { NatsConnection } from '@nats-io/nats-core';
import type { z } from 'zod';
import {
  adapterContract,
  type AdapterContract,
  type AdapterContractResource,
  type AdapterContractVerb,
} from '../../schema/contracts/adapter.ts';
import type { Placement } from '../../schema/model.ts';
import { adapterSubject } from '../../schema/subjects.ts';
import { requestJson } from './request.ts';
import type { CircuitBreaker } from './circuitBreaker.ts';

export type { AdapterContractResource, AdapterContractVerb };

export interface AdapterCallOptions {
  timeoutMs: number;
  deadline?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Reads: a placement that timed out is not waited for until it answers again (see circuitBreaker.ts). */
  breaker?: CircuitBreaker;
}

/** What a request of that resource and verb carries and what its answer is (schema/contracts/adapter.ts). */
export type AdapterRequest<R extends AdapterContractResource, V extends AdapterContractVerb<R>> = z.input<AdapterContract<R, V>['request']>;
export type AdapterReply<R extends AdapterContractResource, V extends AdapterContractVerb<R>> = z.infer<AdapterContract<R, V>['reply']>;

/** One request to the adapter of one region/platform; the answer is parsed by the contract's reply schema. */
export function requestAdapter<R extends AdapterContractResource, V extends AdapterContractVerb<R>>(
  nc: NatsConnection,
  placement: Placement,
  resource: R,
  verb: V,
  body: AdapterRequest<R, V>,
  options: AdapterCallOptions,
): Promise<AdapterReply<R, V>> {
  const { breaker, ...rest } = options;
  const send = () =>
    requestJson(nc, adapterSubject(placement.region, placement.platform, resource, verb), body, adapterContract(resource, verb).reply, {
      ...rest,
      target: { kind: 'region', region: placement.region, platform: placement.platform },
    }) as Promise<AdapterReply<R, V>>;
  return breaker ? breaker.call(placement, send) : send();
}
