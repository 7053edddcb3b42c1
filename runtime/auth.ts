import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { orgRoleSchema, PLATFORM_ADMIN, type OrgRole } from '../schema/access.ts';
import { organizationIdSchema } from '../schema/model.ts';

export { orgRoleSchema, type OrgRole };

/** Who is asking: from a verified bearer token, never from anything the caller could forge. */
export interface Principal {
  /** The token's `sub`. */
  subject: string;
  /** The `org` claim: every read and write is scoped to it. */
  organization: string;
  /** The `org_role` claim. */
  orgRole: OrgRole;
  /** The `roles` claim holds `platform-admin`: an operator of the platform (entitlements). */
  platformAdmin: boolean;
}

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
  })
  .refine((c) => Boolean(c.hs256Secret) !== Boolean(c.jwksUrl), { message: 'set exactly one of hs256Secret and jwksUrl' });
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

export type TokenVerifier = (authorization: string | null | undefined) => Promise<Principal>;

/**
 * Verifies `Authorization: Bearer <jwt>` into a {@link Principal}: signature, issuer, audience, `typ` when
 * configured, and an expiry, which every token must carry (a token without `exp` would be valid forever).
 */
export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const key = config.hs256Secret ? new TextEncoder().encode(config.hs256Secret) : createRemoteJWKSet(new URL(config.jwksUrl as string));
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'a bearer token is required (Authorization: Bearer <token>)');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1] as string, key as Uint8Array, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.hs256Secret ? ['HS256'] : ['RS256', 'ES256', 'PS256', 'EdDSA'],
        requiredClaims: ['exp'],
        clockTolerance: Math.min(config.clockToleranceSeconds ?? 30, 60),
        ...(config.tokenType ? { typ: config.tokenType } : {}),
      }));
    } catch (error) {
      const reason =
        error instanceof joseErrors.JWTExpired
          ? 'the token has expired'
          : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp'
            ? 'the token has no expiry (exp)'
            : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'typ'
              ? `the token is not of type ${config.tokenType}`
              : 'the token is not valid';
      throw new InfrafedError(ErrorCode.UNAUTHENTICATED, reason);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'the token lacks the sub, org or org_role claim');
    return {
      subject: claims.data.sub,
      organization: claims.data.org,
      orgRole: claims.data.org_role,
      platformAdmin: claims.data.roles?.includes(PLATFORM_ADMIN) ?? false,
    };
  };
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
