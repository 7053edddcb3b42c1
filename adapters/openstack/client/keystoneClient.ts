import { ErrorCode, InfrafedError } from '../../../schema/errors.ts';
import type { Logger } from '../../../runtime/log.ts';
import { createOpenstackHttp, type CallOptions, type OpenstackHttp } from './http.ts';

export interface KeystoneClientOptions {
  /** Keystone v3 base URL, e.g. http://127.0.0.1:5000/v3 */
  url: string;
  username: string;
  password: string;
  projectName: string;
  userDomainId: string;
  projectDomainId: string;
  /** Per-call timeout, milliseconds. */
  timeoutMs: number;
  /** Renew the token this long before it expires, milliseconds. Default 5 minutes. */
  renewBeforeMs?: number;
  /** Name in messages, e.g. `Keystone sto`. */
  service: string;
  context: Record<string, unknown>;
  log?: Logger;
}

export interface KeystoneProject {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: boolean;
  tags: string[];
}
export interface KeystoneUser {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
}
export interface KeystoneDomain {
  id: string;
  name: string;
  enabled: boolean;
}
export interface KeystoneRoleAssignment {
  scope: { project?: { id: string; name?: string } };
  user?: { id: string; name?: string; domain?: { id: string; name?: string } };
  group?: { id: string; name?: string; domain?: { id: string; name?: string } };
  role: { id: string; name?: string };
}

interface TokenState {
  token: string;
  expiresAt: number;
}

export interface KeystoneClient {
  /** The API for any path under /v3, with the service token. */
  call: OpenstackHttp;
  /** A valid service token (cached; renewed before expiry). For the other OpenStack services. */
  token(fresh?: boolean): Promise<string>;
  /** Follows `links.next` until the list ends. */
  listAll<T>(path: string, key: string, query?: Record<string, string | undefined>, options?: CallOptions): Promise<T[]>;
  version(options?: CallOptions): Promise<string>;
  findDomain(name: string, options?: CallOptions): Promise<KeystoneDomain | null>;
  createDomain(name: string, description: string, options?: CallOptions): Promise<KeystoneDomain>;
  /** `tags`: all of them; `tagsAny`: any of them. */
  listProjects(
    query: { domainId?: string; tags?: string[]; tagsAny?: string[]; name?: string },
    options?: CallOptions,
  ): Promise<KeystoneProject[]>;
  createProject(
    project: { name: string; domainId: string; description: string; tags: string[] },
    options?: CallOptions,
  ): Promise<KeystoneProject>;
  deleteProject(id: string, options?: CallOptions): Promise<boolean>;
  findUser(name: string, domainId: string, options?: CallOptions): Promise<KeystoneUser | null>;
  createUser(name: string, domainId: string, options?: CallOptions): Promise<KeystoneUser>;
  /** Role id by name (cached: roles do not change under a running adapter). */
  roleId(name: string, options?: CallOptions): Promise<string>;
  listProjectAssignments(projectId: string, options?: CallOptions): Promise<KeystoneRoleAssignment[]>;
  findGroup(name: string, domainId: string, options?: CallOptions): Promise<KeystoneUser | null>;
  createGroup(name: string, domainId: string, options?: CallOptions): Promise<KeystoneUser>;
  assignRole(projectId: string, actor: KeystoneActor, roleId: string, options?: CallOptions): Promise<void>;
  unassignRole(projectId: string, actor: KeystoneActor, roleId: string, options?: CallOptions): Promise<boolean>;
}

/** Who holds a role on a project: a user or a group (by Keystone id). */
export interface KeystoneActor {
  kind: 'user' | 'group';
  id: string;
}
const actorPath = (a: KeystoneActor) => `${a.kind === 'user' ? 'users' : 'groups'}/${encodeURIComponent(a.id)}`;

/** Keystone v3 with a service account: token caching and renewal, pagination, errors mapped. */
export function createKeystoneClient(options: KeystoneClientOptions): KeystoneClient {
  const renewBeforeMs = options.renewBeforeMs ?? 5 * 60_000;
  const base = options.url.replace(/\/+$/, '');
  const unauthenticated = createOpenstackHttp({
    service: options.service,
    baseUrl: base,
    timeoutMs: options.timeoutMs,
    context: options.context,
    log: options.log,
  });
  let state: TokenState | null = null;
  let pending: Promise<TokenState> | null = null;

  async function issueToken(): Promise<TokenState> {
    const res = await unauthenticated<{ token: { expires_at: string } }>('POST', '/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: options.username, domain: { id: options.userDomainId }, password: options.password } },
          },
          scope: { project: { name: options.projectName, domain: { id: options.projectDomainId } } },
        },
      },
    });
    const token = res.headers.get('x-subject-token');
    if (!token) throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${options.service} issued no token`, options.context);
    return { token, expiresAt: Date.parse(res.body.token.expires_at) };
  }

  async function token(fresh = false): Promise<string> {
    if (!fresh && state && state.expiresAt - renewBeforeMs > Date.now()) return state.token;
    if (!pending) {
      // one token request at a time, however many calls need it
      pending = issueToken().finally(() => {
        pending = null;
      });
    }
    state = await pending;
    return state.token;
  }

  const call = createOpenstackHttp({
    service: options.service,
    baseUrl: base,
    timeoutMs: options.timeoutMs,
    token,
    context: options.context,
    log: options.log,
  });
  const roleIds = new Map<string, string>();

  async function listAll<T>(
    path: string,
    key: string,
    query: Record<string, string | undefined> = {},
    callOptions: CallOptions = {},
  ): Promise<T[]> {
    const out: T[] = [];
    let res = await call<Record<string, unknown>>('GET', path, { ...callOptions, query });
    for (;;) {
      const page = res.body[key];
      if (!Array.isArray(page))
        throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${options.service}: list ${path} has no ${key}`, options.context);
      out.push(...(page as T[]));
      if (res.body.truncated === true) {
        throw new InfrafedError(
          ErrorCode.UPSTREAM_ERROR,
          `${options.service} truncated the list ${path} (raise its list_limit)`,
          options.context,
        );
      }
      const next = (res.body.links as { next?: string | null } | undefined)?.next;
      if (!next) return out;
      const url = new URL(next);
      res = await call<Record<string, unknown>>('GET', url.pathname.replace(/^.*?\/v3/, '') + url.search, callOptions);
    }
  }

  return {
    call,
    token,
    listAll,
    async version(callOptions) {
      const res = await call<{ version: { id: string } }>('GET', '', callOptions);
      return res.body.version.id;
    },
    async findDomain(name, callOptions) {
      const domains = await listAll<KeystoneDomain>('/domains', 'domains', { name }, callOptions);
      return domains[0] ?? null;
    },
    async createDomain(name, description, callOptions) {
      const res = await call<{ domain: KeystoneDomain }>('POST', '/domains', { ...callOptions, body: { domain: { name, description } } });
      return res.body.domain;
    },
    listProjects(query, callOptions) {
      return listAll<KeystoneProject>(
        '/projects',
        'projects',
        { domain_id: query.domainId, name: query.name, tags: query.tags?.join(','), 'tags-any': query.tagsAny?.join(',') },
        callOptions,
      );
    },
    async createProject(project, callOptions) {
      const res = await call<{ project: KeystoneProject }>('POST', '/projects', {
        ...callOptions,
        body: {
          project: { name: project.name, domain_id: project.domainId, description: project.description, tags: project.tags, enabled: true },
        },
      });
      return res.body.project;
    },
    async deleteProject(id, callOptions) {
      const res = await call('DELETE', `/projects/${encodeURIComponent(id)}`, { ...callOptions, accept: [204, 404] });
      return res.status === 204;
    },
    async findUser(name, domainId, callOptions) {
      const users = await listAll<KeystoneUser>('/users', 'users', { name, domain_id: domainId }, callOptions);
      return users[0] ?? null;
    },
    async createUser(name, domainId, callOptions) {
      const res = await call<{ user: KeystoneUser }>('POST', '/users', {
        ...callOptions,
        body: { user: { name, domain_id: domainId, enabled: true } },
      });
      return res.body.user;
    },
    async roleId(name, callOptions) {
      const known = roleIds.get(name);
      if (known) return known;
      const roles = await listAll<{ id: string; name: string }>('/roles', 'roles', { name }, callOptions);
      const role = roles.find((r) => r.name === name);
      if (!role) throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${options.service} has no role named ${name}`, options.context);
      roleIds.set(name, role.id);
      return role.id;
    },
    listProjectAssignments(projectId, callOptions) {
      return listAll<KeystoneRoleAssignment>(
        '/role_assignments',
        'role_assignments',
        { 'scope.project.id': projectId, include_names: 'true' },
        callOptions,
      );
    },
    async findGroup(name, domainId, callOptions) {
      const groups = await listAll<KeystoneUser>('/groups', 'groups', { name, domain_id: domainId }, callOptions);
      return groups[0] ?? null;
    },
    async createGroup(name, domainId, callOptions) {
      const res = await call<{ group: KeystoneUser }>('POST', '/groups', {
        ...callOptions,
        body: { group: { name, domain_id: domainId, description: 'infrafed: members come from the identity provider' } },
      });
      return res.body.group;
    },
    async assignRole(projectId, actor, roleId, callOptions) {
      await call('PUT', `/projects/${encodeURIComponent(projectId)}/${actorPath(actor)}/roles/${encodeURIComponent(roleId)}`, callOptions);
    },
    async unassignRole(projectId, actor, roleId, callOptions) {
      const res = await call(
        'DELETE',
        `/projects/${encodeURIComponent(projectId)}/${actorPath(actor)}/roles/${encodeURIComponent(roleId)}`,
        {
          ...callOptions,
          accept: [204, 404],
        },
      );
      return res.status === 204;
    },
  };
}
