import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { authConfigSchema, createTokenVerifier, signLocalToken, type AuthConfig } from './auth.ts';

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
      identityProvider: 'primary',
    });
    const operator = await signLocalToken(config, { subject: 'ops', organization: 'infrafed', orgRole: 'reader', platformAdmin: true });
    await expect(verify(`Bearer ${operator}`)).resolves.toMatchObject({ subject: 'ops', platformAdmin: true });
  });

  it('refuses no token, a malformed header, a wrong key, an expired token and missing claims as UNAUTHENTICATED', async () => {
    const other = await signLocalToken(
      { ...config, hs256Secret: 'b'.repeat(40) },
      { subject: 'x', organization: 'acme', orgRole: 'owner' },
    );
    const expired = await signLocalToken(config, { subject: 'x', organization: 'acme', orgRole: 'owner', ttlSeconds: -120 });
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

  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const jwt = new SignJWT({ org: 'acme', org_role: 'owner', ...claims })
      .setProtectedHeader({ alg: 'HS256', ...header })
      .setSubject('x')
      .setIssuer(config.issuer)
      .setAudience(config.audience);
    return jwt;
  };
  const key = new TextEncoder().encode(config.hs256Secret);

  it('refuses a token without an expiry: it would be valid forever', async () => {
    const forever = await sign({}).sign(key);
    expect(await rejection(verify(`Bearer ${forever}`))).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'the token has no expiry (exp)',
    });
  });

  it('tolerates clocks apart by the configured tolerance (default 30 s, at most 60 s), not more', async () => {
    const now = Math.floor(Date.now() / 1000);
    const justExpired = await sign({})
      .setExpirationTime(now - 20)
      .sign(key);
    await expect(verify(`Bearer ${justExpired}`)).resolves.toMatchObject({ organization: 'acme' });
    const longExpired = await sign({})
      .setExpirationTime(now - 90)
      .sign(key);
    expect(await rejection(createTokenVerifier({ ...config, clockToleranceSeconds: 60 })(`Bearer ${longExpired}`))).toMatchObject({
      message: 'the token has expired',
    });
    expect(authConfigSchema.safeParse({ ...config, clockToleranceSeconds: 300 }).success).toBe(false);
  });

  it('keeps a verified token no longer than verifying it again would accept it, and keeps no refusal', async () => {
    const strict = createTokenVerifier({ ...config, clockToleranceSeconds: 0 });
    const now = Math.floor(Date.now() / 1000);
    const shortLived = await sign({})
      .setExpirationTime(now + 1)
      .sign(key);
    await expect(strict(`Bearer ${shortLived}`)).resolves.toMatchObject({ organization: 'acme' });
    await expect(strict(`Bearer ${shortLived}`)).resolves.toMatchObject({ organization: 'acme' });
    await new Promise((r) => setTimeout(r, (now + 1) * 1000 - Date.now() + 200));
    expect(await rejection(strict(`Bearer ${shortLived}`))).toMatchObject({ code: 'UNAUTHENTICATED', message: 'the token has expired' });
    const forged = await new SignJWT({ org: 'acme', org_role: 'owner' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('b'.repeat(40)));
    for (let i = 0; i < 2; i++) expect(await rejection(strict(`Bearer ${forged}`))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('checks the typ header when the issuer sets one', async () => {
    const typed = createTokenVerifier({ ...config, tokenType: 'at+jwt' });
    const access = await sign({}, { typ: 'at+jwt' }).setExpirationTime('1h').sign(key);
    const idToken = await sign({}, { typ: 'JWT' }).setExpirationTime('1h').sign(key);
    await expect(typed(`Bearer ${access}`)).resolves.toMatchObject({ organization: 'acme' });
    expect(await rejection(typed(`Bearer ${idToken}`))).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'the token is not of type at+jwt',
    });
  });

  it('takes a JWKS URL only over https, or plain http on loopback', () => {
    const jwks = (jwksUrl: string) => authConfigSchema.safeParse({ issuer: 'i', audience: 'a', jwksUrl }).success;
    expect(jwks('https://idp.example.org/jwks')).toBe(true);
    expect(jwks('http://127.0.0.1:8080/jwks')).toBe(true);
    expect(jwks('http://idp.example.org/jwks')).toBe(false);
  });
});
