import { ErrorCode, InfrafedError } from '../../schema/errors.ts';

/** Body of an OpenStack error: Keystone `{error:{code,message,title}}`, Neutron `{NeutronError:{type,message}}`. */
function vendorMessage(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const inner = (b.error ?? b.NeutronError ?? b.badRequest ?? b.itemNotFound ?? b.conflictingRequest ?? b.forbidden) as
      Record<string, unknown> | undefined;
    if (inner && typeof inner.message === 'string') return inner.message;
  }
  return typeof body === 'string' && body.length > 0 ? body.slice(0, 200) : 'no detail';
}

function neutronErrorType(body: unknown): string | undefined {
  const inner = (body as { NeutronError?: { type?: unknown } } | null)?.NeutronError;
  return typeof inner?.type === 'string' ? inner.type : undefined;
}

/**
 * Over-quota answers. Neutron: 409 OverQuota "Quota exceeded for resources: ['network']." (no figures: the
 * adapter reads them from the quota details). Nova: 403 "Quota exceeded for cores: Requested 4, but already
 * used 0 of 2 cores".
 */
function overQuota(
  status: number,
  body: unknown,
  detail: string,
): { vendorResources: string[]; figures?: { requested: number; used: number; limit: number } } | null {
  if (status === 409 && neutronErrorType(body) === 'OverQuota') {
    return { vendorResources: [...detail.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] as string) };
  }
  const nova = /Quota exceeded for ([a-z_]+): Requested (\d+), but already used (\d+) of (\d+)/.exec(detail);
  if (status === 403 && nova) {
    return { vendorResources: [nova[1] as string], figures: { requested: Number(nova[2]), used: Number(nova[3]), limit: Number(nova[4]) } };
  }
  return null;
}

/** Maps a vendor HTTP error to a neutral code; the vendor's own message stays in the text, credentials never do. */
export function fromVendorResponse(service: string, status: number, body: unknown, context: Record<string, unknown>): InfrafedError {
  const detail = vendorMessage(body);
  const extensions = { ...context, vendorStatus: status };
  const quota = overQuota(status, body, detail);
  if (quota) return new InfrafedError(ErrorCode.QUOTA_EXCEEDED, `${service}: ${detail}`, { ...extensions, ...quota });
  // Nova and Neutron (with check_limit) refuse a limit below what is in use
  const belowUse = /Quota limit (-?\d+) for ([a-z_]+) must be greater than or equal to already used(?: and reserved)? (\d+)/.exec(detail);
  if (status === 400 && belowUse) {
    return new InfrafedError(ErrorCode.CONFLICT, `${service}: ${detail}`, {
      ...extensions,
      vendorResources: [belowUse[2] as string],
      figures: { limit: Number(belowUse[1]), used: Number(belowUse[3]) },
    });
  }
  const neutronType = neutronErrorType(body);
  if (neutronType) Object.assign(extensions, { vendorType: neutronType });
  switch (true) {
    case status === 404:
      return new InfrafedError(ErrorCode.NOT_FOUND, `${service}: ${detail}`, extensions);
    case status === 409:
      return new InfrafedError(ErrorCode.CONFLICT, `${service}: ${detail}`, extensions);
    case status === 400:
      return new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${service} refused the request: ${detail}`, extensions);
    case status === 401 || status === 403:
      // the adapter's own service account was refused: an operator problem, not the caller's
      return new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${service} refused the adapter's credentials (${status})`, extensions);
    case status === 503:
      return new InfrafedError(ErrorCode.REGION_UNAVAILABLE, `${service} is unavailable: ${detail}`, extensions);
    default:
      return new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${service} failed with HTTP ${status}: ${detail}`, extensions);
  }
}

/** Maps a transport failure (refused, reset, timed out) of a vendor call. */
export function fromVendorFailure(service: string, error: unknown, timeoutMs: number, context: Record<string, unknown>): InfrafedError {
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'TimeoutError') {
    return new InfrafedError(ErrorCode.REGION_TIMEOUT, `${service} did not answer within ${timeoutMs} ms`, context, { cause: error });
  }
  if (name === 'AbortError') {
    return new InfrafedError(ErrorCode.REGION_TIMEOUT, `${service} call was cancelled (deadline passed)`, context, { cause: error });
  }
  return new InfrafedError(ErrorCode.REGION_UNAVAILABLE, `${service} is unreachable`, context, { cause: error });
}
