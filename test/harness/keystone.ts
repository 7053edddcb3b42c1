import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, run } from '../../platforms/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OS_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const KEYSTONE_ADMIN_PASSWORD = 'admin-secret';

export interface TestKeystone {
  url: string;
  region: string;
  /** Set when started with Neutron. */
  neutronUrl?: string;
  /** Set when started with nova-api (with its version, e.g. …/v2.1). */
  novaUrl?: string;
  stop(): Promise<void>;
}

/**
 * A real Keystone (Debian's package, uwsgi on a free port) restored to its pristine state. The state
 * lives in .local/test/<name>: the first run bootstraps it (~10 s), later runs restore a snapshot (~2 s).
 */
export async function startKeystone(
  name: string,
  region = name,
  options: { withNeutron?: boolean; withNova?: boolean } = {},
): Promise<TestKeystone> {
  const port = await freePort();
  const neutronPort = await freePort();
  const novaPort = await freePort();
  const env = {
    ...process.env,
    PATH: OS_PATH,
    STATE_DIR: join(ROOT, '.local', 'test', name),
    KS_PORT: String(port),
    NEUTRON_PORT: String(neutronPort),
    WITH_NEUTRON: options.withNeutron ? '1' : '0',
    NOVA_PORT: String(novaPort),
    WITH_NOVA: options.withNova ? '1' : '0',
    OS_REGION: region,
    ADMIN_PASSWORD: KEYSTONE_ADMIN_PASSWORD,
  };
  await run('bash', [join(ROOT, 'platforms/openstack/stop.sh')], env).catch(() => '');
  await run('bash', [join(ROOT, 'platforms/openstack/start.sh')], { ...env, RESET: '1' });
  return {
    url: `http://127.0.0.1:${port}/v3`,
    region,
    neutronUrl: options.withNeutron ? `http://127.0.0.1:${neutronPort}` : undefined,
    novaUrl: options.withNova ? `http://127.0.0.1:${novaPort}/v2.1` : undefined,
    async stop() {
      await run('bash', [join(ROOT, 'platforms/openstack/stop.sh')], env);
    },
  };
}

/** Independent look at what Keystone holds (plain HTTP, not the adapter's client): what the tests check against. */
export function keystoneAdmin(url: string) {
  let token: string | undefined;
  async function auth(): Promise<string> {
    if (token) return token;
    const res = await fetch(`${url}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: KEYSTONE_ADMIN_PASSWORD } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
    token = res.headers.get('x-subject-token') ?? undefined;
    if (!token) throw new Error(`Keystone at ${url} gave no token (${res.status})`);
    return token;
  }
  async function get<T>(path: string, base = url): Promise<T> {
    const res = await fetch(`${base}${path}`, { headers: { 'x-auth-token': await auth() } });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  }
  async function post<T>(base: string, path: string, body: unknown, method = 'POST'): Promise<T> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-auth-token': await auth(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
  async function assignments(projectId: string) {
    type Actor = { name: string; domain: { name: string } };
    return (
      await get<{ role_assignments: { user?: Actor; group?: Actor; role: { name: string } }[] }>(
        `/role_assignments?scope.project.id=${projectId}&include_names=true`,
      )
    ).role_assignments;
  }
  return {
    /** The operator's (admin's) token, for calls the helpers here do not cover. */
    token: auth,
    /** Neutron as an operator sees it: create or list anything in any project. */
    neutron(neutronUrl: string) {
      const base = `${neutronUrl}/v2.0`;
      return {
        create: <T>(path: string, body: unknown) => post<T>(base, path, body),
        put: <T>(path: string, body: unknown) => post<T>(base, path, body, 'PUT'),
        get: <T>(path: string) => get<T>(path, base),
        async remove(path: string): Promise<void> {
          const res = await fetch(`${base}${path}`, { method: 'DELETE', headers: { 'x-auth-token': await auth() } });
          if (res.status !== 204) throw new Error(`DELETE ${path}: ${res.status} ${await res.text()}`);
        },
        // unfiltered, then filtered here: a project_id filter on security-groups makes Neutron create that
        // project's `default` group, so the check would find what it just made
        list: async (collection: string, projectId: string) =>
          (
            (await get<Record<string, { id: string; project_id: string }[]>>(`/${collection}`, base))[collection.replace(/-/g, '_')] ?? []
          ).filter((x) => x.project_id === projectId),
      };
    },
    /** Nova's quota-set of a project, as an operator reads it. */
    async novaQuota(novaUrl: string, projectId: string) {
      const res = await fetch(`${novaUrl}/os-quota-sets/${projectId}`, {
        headers: { 'x-auth-token': await auth(), 'OpenStack-API-Version': 'compute 2.79' },
      });
      if (!res.ok) throw new Error(`GET os-quota-sets: ${res.status}`);
      return ((await res.json()) as { quota_set: Record<string, number> }).quota_set;
    },
    async projectsTagged(tag: string) {
      return (
        await get<{ projects: { id: string; name: string; tags: string[]; domain_id: string }[] }>(
          `/projects?tags=${encodeURIComponent(tag)}`,
        )
      ).projects;
    },
    async allInfrafedProjects() {
      return (await get<{ projects: { id: string; name: string; tags: string[] }[] }>('/projects?tags=infrafed')).projects;
    },
    /** Users' role assignments on a project. */
    async roleAssignments(projectId: string) {
      return (await assignments(projectId))
        .filter((a) => a.user)
        .map((a) => ({ user: a.user?.name, domain: a.user?.domain.name, role: a.role.name }));
    },
    /** Groups' role assignments on a project. */
    async groupRoleAssignments(projectId: string) {
      return (await assignments(projectId))
        .filter((a) => a.group)
        .map((a) => ({ group: a.group?.name, domain: a.group?.domain.name, role: a.role.name }));
    },
  };
}
