import type { NatsConnection } from '@nats-io/nats-core';
import type { z } from 'zod';
import type { Placement } from '../../schema/model.ts';
import { adapterSubject, type AdapterResource, type AdapterVerb } from '../../schema/subjects.ts';
import { requestJson } from './request.ts';

export interface AdapterCallOptions {
  timeoutMs: number;
  deadline?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** One request to the adapter of one region/platform. */
export function requestAdapter<S extends z.ZodType>(
  nc: NatsConnection,
  placement: Placement,
  resource: AdapterResource,
  verb: AdapterVerb,
  body: unknown,
  reply: S,
  options: AdapterCallOptions,
): Promise<z.infer<S>> {
  return requestJson(nc, adapterSubject(placement.region, placement.platform, resource, verb), body, reply, {
    ...options,
    target: { kind: 'region', region: placement.region, platform: placement.platform },
  });
}
