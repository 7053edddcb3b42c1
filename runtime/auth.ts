import { SignJWT, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { setBounded } from './bounded.ts';
import { z } from 'zod';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { orgRoleSchema, PLATFORM_ADMIN, type OrgRole } from '../schema/access.ts';
import { organizationIdSchema } from '../schema/model.ts';
import { identityProviderNameSchema, PRIMARY_PROVIDER, qualifiedSubject } from '../schema/people.ts';

export { orgRoleSchema, type OrgRole };

/** Who is asking: from a verified bearer token, never from anything the caller could forge. */
export interface Principal {
  /** The token's `sub` (primary issuer), or `<provider>:<sub>` for a configured identity provider's principal. */
  subject: string;
  /** The `org` claim: every read and write is scoped to it ('' for a principal that belongs to no organisation yet). */
  organization: string;
  /** The `org_role` claim; the controller raises it to the highest of the principal's grants. */
  orgRole: OrgRole;
  /** The `roles` claim holds `platform-admin`: an operator of the platform (entitlements). */
  platformAdmin: boolean;
  /** Who vouched for the subject: absent or `primary` (the configured issuer), else an identity provider's name (a session). */
  identityProvider?: string;
  /** Set on a session of a principal that belongs to no organisation yet: it may only answer invitations. */
  unaffiliated?: true;
}

/** An identity provider whose tokens are exchanged for infrafed sessions at sign-in (institutions: eduGAIN, MyAccessID). */
export const identityProviderConfigSchema = z.object({
  name: identityProviderNameSchema,
  issuer: z.string().min(1),
  audience: z.string().min(1),
  jwksUrl: z.url().refine((u) => isHttpsOrLoopback(u), { message: 'the JWKS URL must be https (plain http only on a loopback address)' }),
});
export type IdentityProviderConfig = z.infer<typeof identityProviderConfigSchema>;

export const authConfigSchema = z
  .object({
    issuer: z.string().min(1),
    audience: z.string().min(1),
    /** Local stack: a shared HS256 key (at least 32 characters). */
    hs256Secret: z.string().min(32, 'the HS256 secret must be at least 32 characters').optional(),
    /** Production: the OIDC provider's JWKS URL (https; plain http only on loopback). */
    jwksUrl: z
      .url()
      .refine((u) => isHttpsOrLoopback(u), { message: 'the JWKS URL must be https (plain http only on a loopback address)' })
      .optional(),
    /** How far the clocks of the issuer and of infrafed may differ, seconds (`exp`, `nbf`, `iat`); at most 60, default 30. */
    clockToleranceSeconds: z.number().int().min(0).max(60).default(30),
    /** The `typ` header the issuer puts on its access tokens (e.g. `at+jwt`, RFC 9068); checked when set. */
    tokenType: z.string().min(1).optional(),
    /**
     * Sessions: what infrafed issues at sign-in for an identity provider's token (its organisation and the
     * role of its grants), signed with this key; every component accepts them beside the primary issuer's.
     */
    sessions: z
      .object({
        /** The key (at least 32 characters), or `{ "env": "NAME" }`: read from the environment (every component needs the same). */
        hs256Secret: z.union([
          z.string().min(32, 'the session secret must be at least 32 characters'),
          z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }),
        ]),
        issuer: z.string().min(1).default('infrafed-session'),
        /** A session lasts at most this long (and never past the identity provider's token), seconds. Default 900. */
        ttlSeconds: z.number().int().min(60).max(86_400).default(900),
      })
      .optional(),
    /** Identity providers whose tokens sign in (exchanged for sessions by the gateway); needs `sessions`. */
    identityProviders: z.array(identityProviderConfigSchema).default([]),
  })
  .refine((c) => Boolean(c.hs256Secret) !== Boolean(c.jwksUrl), { message: 'set exactly one of hs256Secret and jwksUrl' })
  .refine((c) => c.identityProviders.length === 0 || c.sessions !== undefined, {
    message: 'identity providers need auth.sessions (the key sessions are signed with)',
    path: ['sessions'],
  })
  .refine((c) => new Set(c.identityProviders.map((p) => p.name)).size === c.identityProviders.length, {
    message: 'an identity provider is listed twice',
    path: ['identityProviders'],
  })
  .refine((c) => c.identityProviders.every((p) => p.issuer !== c.issuer && p.issuer !== c.sessions?.issuer), {
    message: "an identity provider's issuer must differ from auth.issuer and the sessions' issuer",
    path: ['identityProviders'],
  });
export type AuthConfig = z.input<typeof authConfigSchema>;

function isHttpsOrLoopback(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  org: organizationIdSchema,
  org_role: orgRoleSchema,
  roles: z.array(z.string()).optional(),
});

/** A session's claims: `sub` is the qualified subject; `org`/`org_role` absent while it belongs to no organisation. */
const sessionClaimsSchema = z.object({
  sub: z.string().min(1),
  idp: identityProviderNameSchema,
  org: organizationIdSchema.optional(),
  org_role: orgRoleSchema.optional(),
});

export type TokenVerifier = (authorization: string | null | undefined) => Promise<Principal>;

/** The sessions' signing key: the configured one, or the environment variable it names (at least 32 characters). */
function sessionSecret(secret: string | { env: string }): Uint8Array {
  const value = typeof secret === 'string' ? secret : (process.env[secret.env] ?? '');
  if (value.length < 32)
    throw new Error(
      `auth.sessions.hs256Secret: ${typeof secret === 'string' ? 'too short' : `${secret.env} is unset or shorter than 32 characters`}`,
    );
  return new TextEncoder().encode(value);
}

/** The issuers of tokens seen lately (the gateway asks at every request whose sign-in a token needs). */
const issuers = new Map<string, string | null>();
const ISSUERS_KEPT = 1_000;

/** The `iss` of a token, unverified (to pick the key that verifies it); null when it is no JWT. */
export function unverifiedIssuer(token: string): string | null {
  const known = issuers.get(token);
  if (known !== undefined) return known;
  let issuer: string | null = null;
  try {
    const iss = decodeJwt(token).iss;
    issuer = typeof iss === 'string' ? iss : null;
  } catch {
    // not a JWT: no issuer
  }
  setBounded(issuers, token, issuer, ISSUERS_KEPT);
  return issuer;
}

/** The token of `Authorization: Bearer <jwt>`, or UNAUTHENTICATED. */
export function bearerToken(authorization: string | null | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'a bearer token is required (Authorization: Bearer <token>)');
  return match[1] as string;
}

function verificationFailure(error: unknown, tokenType?: string): InfrafedError {
  const reason =
    error instanceof joseErrors.JWTExpired
      ? 'the token has expired'
      : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp'
        ? 'the token has no expiry (exp)'
        : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'typ'
          ? `the token is not of type ${tokenType}`
          : 'the token is not valid';
  return new InfrafedError(ErrorCode.UNAUTHENTICATED, reason);
}

/**
 * Verifies `Authorization: Bearer <jwt>` into a {@link Principal}: signature, issuer, audience, `typ` when
 * configured, and an expiry, which every token must carry (a token without `exp` would be valid forever).
 */
export function createTokenVerifier(config: AuthConfig, options: { allowUnaffiliated?: boolean } = {}): TokenVerifier {
  const key = config.hs256Secret ? new TextEncoder().encode(config.hs256Secret) : createRemoteJWKSet(new URL(config.jwksUrl as string));
  const sessions = config.sessions ? authConfigSchema.parse(config).sessions : undefined;
  const sessionKey = sessions ? sessionSecret(sessions.hs256Secret) : null;
  const tolerance = Math.min(config.clockToleranceSeconds ?? 30, 60);
  const providerNames = (config.identityProviders ?? []).map((p) => p.name);
  /**
   * Tokens verified lately, with their principal, until their `exp` (plus the tolerance verification
   * allows) or at most a minute: a token is checked once per minute, not at every request, and never
   * accepted longer than verifying it again would. Failures are not kept.
   */
  const verified = new Map<string, { principal: Principal; until: number }>();
  const remember = (token: string, principal: Principal, exp: number | undefined) => {
    setBounded(verified, token, { principal, until: Math.min(((exp ?? 0) + tolerance) * 1000, Date.now() + 60_000) }, VERIFIED_TOKENS_KEPT);
    return principal;
  };
  return async (authorization) => {
    const token = bearerToken(authorization);
    const known = verified.get(token);
    if (known && Date.now() < known.until) return known.principal;
    verified.delete(token);
    if (sessions && sessionKey && unverifiedIssuer(token) === sessions.issuer) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, sessionKey, {
          issuer: sessions.issuer,
          audience: config.audience,
          algorithms: ['HS256'],
          requiredClaims: ['exp'],
          clockTolerance: tolerance,
        }));
      } catch (error) {
        throw verificationFailure(error);
      }
      const claims = sessionClaimsSchema.safeParse(payload);
      if (!claims.success) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'the session lacks the sub or idp claim');
      const affiliated = claims.data.org !== undefined && claims.data.org_role !== undefined;
      if (!affiliated && !options.allowUnaffiliated)
        throw new InfrafedError(ErrorCode.FORBIDDEN, 'you belong to no organisation yet: accept an invitation first');
      return remember(
        token,
        {
          subject: claims.data.sub,
          organization: claims.data.org ?? '',
          orgRole: claims.data.org_role ?? 'reader',
          platformAdmin: false,
          identityProvider: claims.data.idp,
          ...(affiliated ? {} : { unaffiliated: true as const }),
        },
        payload.exp,
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.hs256Secret ? ['HS256'] : ['RS256', 'ES256', 'PS256', 'EdDSA'],
        requiredClaims: ['exp'],
        clockTolerance: tolerance,
        ...(config.tokenType ? { typ: config.tokenType } : {}),
      }));
    } catch (error) {
      throw verificationFailure(error, config.tokenType);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'the token lacks the sub, org or org_role claim');
    // `<provider>:<sub>` names an identity provider's principal: the primary issuer cannot speak for one
    const taken = providerNames.find((name) => claims.data.sub.startsWith(`${name}:`));
    if (taken)
      throw new InfrafedError(
        ErrorCode.UNAUTHENTICATED,
        `the token's sub starts with ${taken}:, which names identity provider ${taken}'s principals`,
      );
    return remember(
      token,
      {
        subject: qualifiedSubject(PRIMARY_PROVIDER, claims.data.sub),
        organization: claims.data.org,
        orgRole: claims.data.org_role,
        platformAdmin: claims.data.roles?.includes(PLATFORM_ADMIN) ?? false,
        identityProvider: PRIMARY_PROVIDER,
      },
      payload.exp,
    );
  };
}

/** Verified tokens a verifier keeps at most (the oldest goes first). */
const VERIFIED_TOKENS_KEPT = 10_000;

/** An identity provider's verified token: who it names and every claim (for the sign-in rules). */
export interface ProviderToken {
  provider: string;
  subject: string;
  claims: JWTPayload;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/**
 * Verifies a token of one of the configured identity providers (by its `iss`, against that provider's
 * JWKS and audience; `exp` required); UNAUTHENTICATED for anything else.
 */
export function createProviderVerifier(config: AuthConfig): (authorization: string | null | undefined) => Promise<ProviderToken> {
  const providers = new Map(
    authConfigSchema.parse(config).identityProviders.map((p) => [p.issuer, { ...p, keys: createRemoteJWKSet(new URL(p.jwksUrl)) }]),
  );
  const tolerance = Math.min(config.clockToleranceSeconds ?? 30, 60);
  return async (authorization) => {
    const token = bearerToken(authorization);
    const provider = providers.get(unverifiedIssuer(token) ?? '');
    if (!provider) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'the token is not from a configured identity provider');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, provider.keys, {
        issuer: provider.issuer,
        audience: provider.audience,
        algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: tolerance,
      }));
    } catch (error) {
      throw verificationFailure(error);
    }
    return {
      provider: provider.name,
      subject: qualifiedSubject(provider.name, payload.sub as string),
      claims: payload,
      expiresAt: payload.exp as number,
    };
  };
}

/** Signs a session (the controller, at sign-in). */
export async function signSession(
  config: AuthConfig,
  session: { subject: string; provider: string; organization: string | null; role: OrgRole | null; expiresAt: number },
): Promise<string> {
  const sessions = authConfigSchema.parse(config).sessions;
  if (!sessions) throw new Error('sessions need auth.sessions');
  return new SignJWT({
    idp: session.provider,
    ...(session.organization && session.role ? { org: session.organization, org_role: session.role } : {}),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(session.subject)
    .setIssuer(sessions.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(session.expiresAt)
    .sign(sessionSecret(sessions.hs256Secret));
}

export interface LocalTokenOptions {
  subject: string;
  organization: string;
  orgRole: OrgRole;
  /** Adds `platform-admin` to the `roles` claim. */
  platformAdmin?: boolean;
  /** Lifetime in seconds; default 12 hours. */
  ttlSeconds?: number;
}

/** Signs a token with the local stack's HS256 key (local stack and tests only). */
export async function signLocalToken(config: AuthConfig, options: LocalTokenOptions): Promise<string> {
  if (!config.hs256Secret) throw new Error('local tokens need auth.hs256Secret');
  return new SignJWT({
    org: options.organization,
    org_role: options.orgRole,
    ...(options.platformAdmin ? { roles: [PLATFORM_ADMIN] } : {}),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.subject)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(`${options.ttlSeconds ?? 43_200}s`)
    .sign(new TextEncoder().encode(config.hs256Secret));
}
