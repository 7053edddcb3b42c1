import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { createTokenVerifier, signLocalToken, type AuthConfig } from './auth.ts';

const config: AuthConfig = { issuer: 'infrafed-test', audience: 'infrafed', hs256Secret: 'a'.repeat(40) };
const verify = createTokenVerifier(config);

async function rejection(p: Promise<unknown>) {
  return p.then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
}

describe('token verification', () => {
  it('turns a valid token into a principal', async () => {
    const token = await signLocalToken(config, { subject: 'alice', organization: 'acme', orgRole: 'admin' });
    await expect(verify(`Bearer ${token}`)).resolves.toEqual({
      subject: 'alice',
      organization: 'acme',
      orgRole: 'admin',
      platformAdmin: false,
    });
    const operator = await signLocalToken(config, { subject: 'ops', organization: 'infrafed', orgRole: 'reader', platformAdmin: true });
    await expect(verify(`Bearer ${operator}`)).resolves.toMatchObject({ subject: 'ops', platformAdmin: true });
  });

  it('refuses no token, a malformed header, a wrong key, an expired token and missing claims as UNAUTHENTICATED', async () => {
    const other = await signLocalToken(
      { ...config, hs256Secret: 'b'.repeat(40) },
      { subject: 'x', organization: 'acme', orgRole: 'owner' },
    );
    const expired = await signLocalToken(config, { subject: 'x', organization: 'acme', orgRole: 'owner', ttlSeconds: -10 });
    const noOrg = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(config.hs256Secret));
    const cases: [string | undefined, RegExp][] = [
      [undefined, /bearer token is required/],
      ['Basic abc', /bearer token is required/],
      [`Bearer ${other}`, /not valid/],
      [`Bearer ${expired}`, /expired/],
      [`Bearer ${noOrg}`, /lacks the sub, org or org_role/],
    ];
    for (const [header, message] of cases) {
      const e = await rejection(verify(header));
      expect(e?.code).toBe('UNAUTHENTICATED');
      expect(e?.message).toMatch(message);
    }
  });
});
