import type { NatsConnection } from '@nats-io/nats-core';
import { createHash } from 'node:crypto';
import { sessionExchangeReply } from '../schema/people.ts';
import { controllerPeopleSubject, Header, PeopleVerb } from '../schema/subjects.ts';
import { requestJson } from '../runtime/nats/request.ts';

/**
 * Sign-in at the gateway: a request whose bearer token an identity provider issued is carried on with an
 * infrafed session instead (the controller verifies the token, applies the organisation's rules and signs
 * the session). The first request with a new token signs in; its session is kept for the next ones, at
 * most `cacheSeconds` (a grant removed by hand stops writes at once, at the controller, and reads by then).
 */
export function createSignIn(nc: NatsConnection, options: { cacheSeconds?: number; timeoutMs?: number } = {}) {
  const cache = new Map<string, { token: string; until: number }>();
  const cacheMs = (options.cacheSeconds ?? 60) * 1000;
  return async function signIn(authorization: string, organization: string | null): Promise<string> {
    const key = createHash('sha256')
      .update(`${organization ?? ''}\n${authorization}`)
      .digest('hex');
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.token;
    const reply = await requestJson(nc, controllerPeopleSubject(PeopleVerb.session), { organization }, sessionExchangeReply, {
      timeoutMs: options.timeoutMs ?? 5_000,
      headers: { [Header.authorization]: authorization },
      target: { kind: 'service', name: 'the controller' },
    });
    const token = reply.token as string;
    const until = Math.min(Date.now() + cacheMs, ((reply.expiresAt ?? 0) - 30) * 1000);
    if (cache.size > 10_000) cache.clear();
    // a session of no organisation is not kept: the invitation it accepts counts at the next request
    if (reply.organization && until > Date.now()) cache.set(key, { token, until });
    return token;
  };
}
export type SignIn = ReturnType<typeof createSignIn>;
