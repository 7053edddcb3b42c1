import { describe, expect, it } from '@jest/globals';
import {
  authConfigSchema,
  createProviderVerifier,
  createTokenVerifier,
  signLocalToken,
  signSession,
  type AuthConfig,
} from '../../runtime/auth.ts';
import { signProviderToken, startLocalIdentityProvider } from '../../platforms/identityProvider.ts';

/** Sign-in's token checks against a real JWKS server on loopback (the local identity provider stand-in). */
const config: AuthConfig = { issuer: 'infrafed-test', audience: 'infrafed', hs256Secret: 'a'.repeat(40) };

async function rejection(p: Promise<unknown>) {
  return p.then(
    () => null,
    (e: unknown) => e as { code: string; message: string },
  );
}

describe('sign-in: identity providers and sessions', () => {
  it("verifies a provider's token by its own keys and audience, and sessions beside the primary issuer's tokens", async () => {
    const idp = await startLocalIdentityProvider({ name: 'campus' });
    try {
      const withIdp: AuthConfig = {
        ...config,
        sessions: { hs256Secret: 's'.repeat(40) },
        identityProviders: [{ name: 'campus', issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl }],
      };
      const provider = createProviderVerifier(withIdp);
      const token = await signProviderToken(idp, 'u-123', { eduperson_entitlement: ['urn:x:hpc'] });
      await expect(provider(`Bearer ${token}`)).resolves.toMatchObject({
        provider: 'campus',
        subject: 'campus:u-123',
        claims: { eduperson_entitlement: ['urn:x:hpc'] },
      });
      // another audience, an expired token, the primary issuer's token: not a provider's sign-in
      const otherAudience = await signProviderToken({ ...idp, audience: 'someone-else' }, 'u-123');
      expect((await rejection(provider(`Bearer ${otherAudience}`)))?.code).toBe('UNAUTHENTICATED');
      const expired = await signProviderToken(idp, 'u-123', {}, -120);
      expect((await rejection(provider(`Bearer ${expired}`)))?.message).toBe('the token has expired');
      const primary = await signLocalToken(withIdp, { subject: 'a', organization: 'acme', orgRole: 'owner' });
      expect((await rejection(provider(`Bearer ${primary}`)))?.message).toContain('not from a configured identity provider');
      // the primary issuer cannot name a provider's principal (its subjects are `campus:<sub>`)
      const posing = await signLocalToken(withIdp, { subject: 'campus:u-123', organization: 'acme', orgRole: 'reader' });
      expect((await rejection(createTokenVerifier(withIdp)(`Bearer ${posing}`)))?.message).toContain('names identity provider campus');
      // the provider's token itself is no infrafed token
      expect((await rejection(createTokenVerifier(withIdp)(`Bearer ${token}`)))?.code).toBe('UNAUTHENTICATED');

      const exp = Math.floor(Date.now() / 1000) + 600;
      const session = await signSession(withIdp, {
        subject: 'campus:u-123',
        provider: 'campus',
        organization: 'acme',
        role: 'member',
        expiresAt: exp,
      });
      await expect(createTokenVerifier(withIdp)(`Bearer ${session}`)).resolves.toEqual({
        subject: 'campus:u-123',
        organization: 'acme',
        orgRole: 'member',
        platformAdmin: false,
        identityProvider: 'campus',
      });
      const none = await signSession(withIdp, {
        subject: 'campus:u-9',
        provider: 'campus',
        organization: null,
        role: null,
        expiresAt: exp,
      });
      expect((await rejection(createTokenVerifier(withIdp)(`Bearer ${none}`)))?.code).toBe('FORBIDDEN');
      await expect(createTokenVerifier(withIdp, { allowUnaffiliated: true })(`Bearer ${none}`)).resolves.toMatchObject({
        subject: 'campus:u-9',
        unaffiliated: true,
      });
      // a session signed with another key is refused
      const forged = await signSession(
        { ...withIdp, sessions: { hs256Secret: 'f'.repeat(40) } },
        {
          subject: 'campus:u-123',
          provider: 'campus',
          organization: 'acme',
          role: 'owner',
          expiresAt: exp,
        },
      );
      expect((await rejection(createTokenVerifier(withIdp)(`Bearer ${forged}`)))?.code).toBe('UNAUTHENTICATED');
    } finally {
      await idp.close();
    }
  });

  it('needs sessions for identity providers, and issuers apart', () => {
    const idp = { name: 'campus', issuer: 'https://idp.example', audience: 'infrafed', jwksUrl: 'https://idp.example/jwks' };
    expect(authConfigSchema.safeParse({ ...config, identityProviders: [idp] }).success).toBe(false);
    expect(authConfigSchema.safeParse({ ...config, sessions: { hs256Secret: 's'.repeat(40) }, identityProviders: [idp] }).success).toBe(
      true,
    );
    const same = { ...idp, issuer: config.issuer };
    expect(authConfigSchema.safeParse({ ...config, sessions: { hs256Secret: 's'.repeat(40) }, identityProviders: [same] }).success).toBe(
      false,
    );
  });
});
