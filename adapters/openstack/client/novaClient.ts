import type { Logger } from '../../../runtime/log.ts';
import { createOpenstackHttp, type CallOptions } from './http.ts';

export interface NovaClientOptions {
  /** Nova base URL with its version, e.g. http://127.0.0.1:8774/v2.1 */
  url: string;
  token: (fresh: boolean) => Promise<string>;
  timeoutMs: number;
  service: string;
  context: Record<string, unknown>;
  log?: Logger;
}

export interface NovaQuotaDetail {
  limit: number;
  in_use: number;
  reserved: number;
}

/**
 * The compute microversion infrafed speaks: since 2.36 network quotas are gone from quota-sets (Neutron
 * owns them) and since 2.57 the injected-file ones; 2.79 is the newest the Zed reference rig was measured with.
 */
export const COMPUTE_MICROVERSION = 'compute 2.79';

/** Nova's quota-sets (the only compute API infrafed uses), with the adapter's service token. */
export function createNovaClient(options: NovaClientOptions) {
  const call = createOpenstackHttp({
    service: options.service,
    baseUrl: options.url,
    timeoutMs: options.timeoutMs,
    token: options.token,
    headers: { 'OpenStack-API-Version': COMPUTE_MICROVERSION },
    context: options.context,
    log: options.log,
  });
  return {
    call,
    async quotaDetails(projectId: string, callOptions: CallOptions = {}): Promise<Record<string, NovaQuotaDetail>> {
      const res = await call<{ quota_set: Record<string, NovaQuotaDetail | string> }>(
        'GET',
        `/os-quota-sets/${encodeURIComponent(projectId)}/detail`,
        callOptions,
      );
      const { id: _id, ...rest } = res.body.quota_set;
      return rest as Record<string, NovaQuotaDetail>;
    },
    /** The limits alone (no use counted). */
    async quotaLimits(projectId: string, callOptions: CallOptions = {}): Promise<Record<string, number>> {
      const res = await call<{ quota_set: Record<string, number | string> }>(
        'GET',
        `/os-quota-sets/${encodeURIComponent(projectId)}`,
        callOptions,
      );
      const { id: _id, ...rest } = res.body.quota_set;
      return rest as Record<string, number>;
    },
    async setQuota(projectId: string, quota: Record<string, number>, callOptions: CallOptions = {}): Promise<Record<string, number>> {
      const res = await call<{ quota_set: Record<string, number> }>('PUT', `/os-quota-sets/${encodeURIComponent(projectId)}`, {
        ...callOptions,
        body: { quota_set: quota },
      });
      return res.body.quota_set;
    },
  };
}
export type NovaClient = ReturnType<typeof createNovaClient>;
