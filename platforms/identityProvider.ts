import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/**
 * A local stand-in for an institution's identity provider (eduGAIN, MyAccessID): an issuer with its own
 * key pair (ES256) that serves its JWKS on loopback. Its tokens carry no organisation; infrafed's
 * sign-in turns them into sessions by its members, invitations and rules. Local system and tests only.
 */
export interface LocalIdentityProvider {
  name: string;
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The private key (JWK) that signs its tokens: tests sign with it from other processes. */
  privateJwk: JWK;
  close(): Promise<void>;
}

export async function startLocalIdentityProvider(options: { name: string; audience?: string }): Promise<LocalIdentityProvider> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: `${options.name}-1`, alg: 'ES256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: `${options.name}-1`, alg: 'ES256' };
  const server = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    name: options.name,
    issuer: `http://127.0.0.1:${port}/${options.name}`,
    audience: options.audience ?? 'infrafed',
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    privateJwk,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A token of the stand-in provider: `sub`, any other claims (e.g. `eduperson_entitlement`), an hour by default. */
export async function signProviderToken(
  provider: Pick<LocalIdentityProvider, 'issuer' | 'audience' | 'privateJwk'>,
  subject: string,
  claims: Record<string, unknown> = {},
  ttlSeconds = 3600,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: provider.privateJwk.kid })
    .setSubject(subject)
    .setIssuer(provider.issuer)
    .setAudience(provider.audience)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(await importJWK(provider.privateJwk, 'ES256'));
}
