export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** POSTs GraphQL to the gateway as a client would, with a bearer token (none when null). */
export function graphqlClient(url: () => string, defaultToken: () => string | null) {
  return async function gql<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    token: string | null = defaultToken(),
    headers: Record<string, string> = {},
  ): Promise<GraphQLResponse<T> & { status: number }> {
    const res = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as GraphQLResponse<T>) };
  };
}

/**
 * Onboards organisations as a platform operator would (their entitlements set, none limited), so that the
 * system knows them: a project can be shared only with an organisation it knows.
 */
export async function onboard(
  system: {
    gatewayUrl: string;
    token(org: string, role?: 'owner', subject?: string, extra?: { platformAdmin?: boolean }): Promise<string>;
  },
  ...organizations: string[]
): Promise<void> {
  const operator = await system.token('infrafed', 'owner', 'onboarding-operator', { platformAdmin: true });
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => operator,
  );
  for (const organization of organizations) {
    const res = await gql('mutation($o: String!) { setEntitlements(input: { organization: $o }) { id } }', { o: organization });
    if (res.errors?.length) throw new Error(`onboarding ${organization}: ${JSON.stringify(res.errors)}`);
  }
}
