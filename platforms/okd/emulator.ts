import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * An emulator of the few Kubernetes / OpenShift API groups infrafed uses, for tests and the local system
 * (no API server can be installed here). It speaks the real wire protocol (same paths, objects and
 * `Status` errors) and reproduces the behaviour a client can observe: resourceVersion and optimistic
 * concurrency (409 Conflict), 409 AlreadyExists, 404 NotFound, 422 Invalid with `details.causes`, label
 * selectors, bearer-token auth (401), ResourceQuota admission (403 Forbidden "exceeded quota") with the
 * quota's `status.used`, an immutable RoleBinding `roleRef`, and namespace deletion taking its objects.
 * Not reproduced: watches, PATCH, field selectors, pagination, finalizers and graceful namespace
 * termination (a deleted namespace is gone at once, with everything in it), real RBAC authorisation.
 */

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
type KubeObject = { apiVersion: string; kind: string; metadata: Meta } & Record<string, unknown>;

interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Checks of the object's content (names are checked for every kind). */
  validate?: (obj: KubeObject) => Cause[];
}

interface Cause {
  field: string;
  reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported';
  message: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** Kubernetes quantities as numbers (cpu in cores, memory in bytes, counts as they are). */
export function parseQuantity(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) return Number.NaN;
  const factor: Record<string, number> = {
    '': 1,
    m: 0.001,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return Number(m[1]) * (factor[m[2] ?? ''] as number);
}

function validateNetworkPolicy(obj: KubeObject): Cause[] {
  const causes: Cause[] = [];
  const spec = (obj.spec ?? {}) as { podSelector?: unknown; policyTypes?: string[]; ingress?: unknown[]; egress?: unknown[] };
  if (spec.podSelector === undefined) causes.push({ field: 'spec.podSelector', reason: 'FieldValueRequired', message: 'Required value' });
  for (const [i, t] of (spec.policyTypes ?? []).entries()) {
    if (t !== 'Ingress' && t !== 'Egress')
      causes.push({
        field: `spec.policyTypes[${i}]`,
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: "${t}": supported values: "Ingress", "Egress"`,
      });
  }
  for (const dir of ['ingress', 'egress'] as const) {
    for (const [i, rule] of (
      (spec[dir] ?? []) as { ports?: { protocol?: string; port?: number; endPort?: number }[]; from?: unknown[]; to?: unknown[] }[]
    ).entries()) {
      for (const [j, port] of (rule.ports ?? []).entries()) {
        const at = `spec.${dir}[${i}].ports[${j}]`;
        if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) {
          causes.push({
            field: `${at}.protocol`,
            reason: 'FieldValueNotSupported',
            message: `Unsupported value: "${port.protocol}": supported values: "SCTP", "TCP", "UDP"`,
          });
        }
        if (port.port !== undefined && (typeof port.port !== 'number' || port.port < 1 || port.port > 65535)) {
          causes.push({
            field: `${at}.port`,
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${port.port}: must be between 1 and 65535, inclusive`,
          });
        }
        if (port.endPort !== undefined && (port.port === undefined || port.endPort < port.port)) {
          causes.push({
            field: `${at}.endPort`,
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${port.endPort}: must be greater than or equal to port`,
          });
        }
      }
      for (const [j, peer] of ((rule.from ?? rule.to ?? []) as { ipBlock?: { cidr?: string } }[]).entries()) {
        const cidr = peer.ipBlock?.cidr;
        if (peer.ipBlock && (typeof cidr !== 'string' || !/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/.test(cidr))) {
          causes.push({
            field: `spec.${dir}[${i}].${dir === 'ingress' ? 'from' : 'to'}[${j}].ipBlock.cidr`,
            reason: 'FieldValueInvalid',
            message: `Invalid value: "${cidr}": must be a valid CIDR`,
          });
        }
      }
    }
  }
  return causes;
}

function validateResourceQuota(obj: KubeObject): Cause[] {
  const hard = ((obj.spec as { hard?: Record<string, string> } | undefined)?.hard ?? {}) as Record<string, unknown>;
  return Object.entries(hard)
    .filter(([, v]) => typeof v !== 'string' || !QUANTITY.test(v))
    .map(([k, v]) => ({
      field: `spec.hard[${k}]`,
      reason: 'FieldValueInvalid' as const,
      message: `Invalid value: "${String(v)}": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    }));
}

function validateRoleBinding(obj: KubeObject): Cause[] {
  const roleRef = obj.roleRef as { kind?: string; name?: string } | undefined;
  const causes: Cause[] = [];
  if (!roleRef?.name) causes.push({ field: 'roleRef.name', reason: 'FieldValueRequired', message: 'Required value' });
  if (roleRef?.kind && roleRef.kind !== 'Role' && roleRef.kind !== 'ClusterRole') {
    causes.push({
      field: 'roleRef.kind',
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: "${roleRef.kind}": supported values: "Role", "ClusterRole"`,
    });
  }
  return causes;
}

const TYPES: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'resourcequotas', kind: 'ResourceQuota', namespaced: true, validate: validateResourceQuota },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  { group: 'project.openshift.io', version: 'v1', plural: 'projects', kind: 'Project', namespaced: false },
  { group: 'project.openshift.io', version: 'v1', plural: 'projectrequests', kind: 'ProjectRequest', namespaced: false },
  { group: 'user.openshift.io', version: 'v1', plural: 'groups', kind: 'Group', namespaced: false },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'rolebindings',
    kind: 'RoleBinding',
    namespaced: true,
    validate: validateRoleBinding,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    validate: validateNetworkPolicy,
  },
];

const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
const qualified = (t: ResourceType) => (t.group ? `${t.plural}.${t.group}` : t.plural);

class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** `a=b,c!=d,e,!f` */
function matches(selector: string | null, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=]+)!=(.*)$/.exec(t))) return l[m[1] as string] !== m[2];
    if ((m = /^([^!=]+)==?(.*)$/.exec(t))) return l[m[1] as string] === m[2];
    if (t.startsWith('!')) return !(t.slice(1) in l);
    return t in l;
  });
}

export interface OkdEmulatorOptions {
  /** The bearer token every request must carry. */
  token: string;
  port?: number;
  host?: string;
  /** Keep the objects in this JSON file (read at start, written after every change); in memory only when absent. */
  stateFile?: string;
}

export interface OkdEmulator {
  url: string;
  server: Server;
  /** Direct access for tests (what exists, as the API server would report it). */
  objects(plural: string, namespace?: string): KubeObject[];
  close(): Promise<void>;
}

export async function startOkdEmulator(options: OkdEmulatorOptions): Promise<OkdEmulator> {
  const store = new Map<string, KubeObject>();
  let version = 1000;
  if (options.stateFile && existsSync(options.stateFile)) {
    const saved = JSON.parse(readFileSync(options.stateFile, 'utf8')) as { version: number; objects: [string, KubeObject][] };
    version = saved.version;
    for (const [k, v] of saved.objects) store.set(k, v);
  }
  const persist = () => {
    if (options.stateFile) writeFileSync(options.stateFile, JSON.stringify({ version, objects: [...store.entries()] }));
  };
  const keyOf = (t: ResourceType, ns: string | undefined, name: string) => `${qualified(t)}/${ns ?? ''}/${name}`;
  // a Project is the OpenShift view of a Namespace: both are stored as the namespace
  const storageType = (t: ResourceType) => (t.plural === 'projects' ? (TYPES[0] as ResourceType) : t);

  function list(t: ResourceType, ns: string | undefined): KubeObject[] {
    const prefix = `${qualified(storageType(t))}/${ns ?? ''}`;
    return [...store.entries()]
      .filter(([k]) => (ns === undefined && t.namespaced ? k.startsWith(`${qualified(t)}/`) : k.startsWith(`${prefix}/`)))
      .map(([, v]) => v)
      .sort(
        (a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name),
      );
  }

  function present(t: ResourceType, obj: KubeObject): KubeObject {
    if (t.plural === 'projects')
      return { ...structuredClone(obj), apiVersion: 'project.openshift.io/v1', kind: 'Project', status: { phase: 'Active' } };
    if (t.plural === 'namespaces') return { ...structuredClone(obj), status: { phase: 'Active' } };
    if (t.plural === 'resourcequotas') return { ...structuredClone(obj), status: quotaStatus(obj) };
    return structuredClone(obj);
  }

  /** What a namespace uses of each resource a quota can limit. */
  function used(ns: string, resource: string): number {
    const pods = list(TYPES.find((t) => t.plural === 'pods') as ResourceType, ns);
    const requests = (what: 'cpu' | 'memory') =>
      pods.reduce((sum, p) => {
        const containers =
          (p.spec as { containers?: { resources?: { requests?: Record<string, string> } }[] } | undefined)?.containers ?? [];
        return sum + containers.reduce((s, c) => s + (c.resources?.requests?.[what] ? parseQuantity(c.resources.requests[what]) : 0), 0);
      }, 0);
    if (resource === 'pods') return pods.length;
    if (resource === 'requests.cpu' || resource === 'cpu') return requests('cpu');
    if (resource === 'requests.memory' || resource === 'memory') return requests('memory');
    if (resource === 'persistentvolumeclaims')
      return list(TYPES.find((t) => t.plural === 'persistentvolumeclaims') as ResourceType, ns).length;
    const count = /^count\/([a-z]+)(?:\.(.+))?$/.exec(resource);
    if (count) {
      const t = TYPES.find((x) => x.plural === count[1] && x.group === (count[2] ?? ''));
      return t ? list(t, ns).length : 0;
    }
    return 0;
  }

  function formatUsed(resource: string, value: number): string {
    if (resource.endsWith('cpu')) return Number.isInteger(value) ? String(value) : `${Math.round(value * 1000)}m`;
    if (resource.endsWith('memory')) return value % 1024 ** 2 === 0 ? `${value / 1024 ** 2}Mi` : String(value);
    return String(value);
  }

  function quotaStatus(rq: KubeObject) {
    const hard = ((rq.spec as { hard?: Record<string, string> } | undefined)?.hard ?? {}) as Record<string, string>;
    return {
      hard: { ...hard },
      used: Object.fromEntries(Object.keys(hard).map((r) => [r, formatUsed(r, used(rq.metadata.namespace as string, r))])),
    };
  }

  /** What creating `obj` adds to each quota-limited resource. */
  function increments(t: ResourceType, obj: KubeObject): Record<string, number> {
    const inc: Record<string, number> = { [`count/${qualified(t)}`]: 1 };
    if (t.plural === 'pods') {
      inc.pods = 1;
      for (const c of (obj.spec as { containers?: { resources?: { requests?: Record<string, string> } }[] } | undefined)?.containers ??
        []) {
        for (const what of ['cpu', 'memory'] as const) {
          const q = c.resources?.requests?.[what];
          if (q) inc[`requests.${what}`] = (inc[`requests.${what}`] ?? 0) + parseQuantity(q);
        }
      }
    }
    if (t.plural === 'persistentvolumeclaims') inc.persistentvolumeclaims = 1;
    return inc;
  }

  /** ResourceQuota admission: a create that would take a namespace over a hard limit is refused (403). */
  function admit(t: ResourceType, ns: string, obj: KubeObject): void {
    const quotas = list(TYPES.find((x) => x.plural === 'resourcequotas') as ResourceType, ns);
    const inc = increments(t, obj);
    for (const rq of quotas) {
      const hard = ((rq.spec as { hard?: Record<string, string> } | undefined)?.hard ?? {}) as Record<string, string>;
      const over = Object.entries(inc).filter(([r, n]) => hard[r] !== undefined && used(ns, r) + n > parseQuantity(hard[r] as string));
      if (over.length > 0) {
        const fmt = (pairs: [string, number][]) => pairs.map(([r, n]) => `${r}=${formatUsed(r, n)}`).join(',');
        const requested = fmt(over.map(([r, n]) => [r, n]));
        const usedNow = fmt(over.map(([r]) => [r, used(ns, r)]));
        const limited = over.map(([r]) => `${r}=${hard[r]}`).join(',');
        throw new ApiError(
          403,
          'Forbidden',
          `${qualified(t)} "${obj.metadata.name}" is forbidden: exceeded quota: ${rq.metadata.name}, requested: ${requested}, used: ${usedNow}, limited: ${limited}`,
          {
            name: obj.metadata.name,
            group: t.group,
            kind: t.plural,
          },
        );
      }
    }
  }

  function validate(t: ResourceType, obj: KubeObject, ns: string | undefined): void {
    const causes: Cause[] = [];
    const name = obj.metadata?.name;
    // OpenShift Groups are named like path segments (LDAP sync names them after the directory's groups)
    const namePattern =
      t.plural === 'namespaces' || t.plural === 'projectrequests'
        ? DNS_LABEL
        : t.plural === 'groups'
          ? /^(?!\.\.?$)[^/%]+$/
          : DNS_SUBDOMAIN;
    if (!name)
      causes.push({ field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required' });
    else if (!namePattern.test(name) || name.length > (namePattern === DNS_LABEL ? 63 : 253)) {
      causes.push({
        field: 'metadata.name',
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a lowercase RFC 1123 ${namePattern === DNS_LABEL ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.'`,
      });
    }
    if (ns && obj.metadata?.namespace && obj.metadata.namespace !== ns) {
      causes.push({
        field: 'metadata.namespace',
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${obj.metadata.namespace}": does not match the namespace of the request`,
      });
    }
    for (const [k, v] of Object.entries(obj.metadata?.labels ?? {})) {
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
        causes.push({
          field: `metadata.labels`,
          reason: 'FieldValueInvalid',
          message: `Invalid value: "${String(v)}": a valid label value (key ${k})`,
        });
    }
    causes.push(...(t.validate?.(obj) ?? []));
    if (causes.length > 0) {
      const kind = t.group ? `${t.kind}.${t.group}` : t.kind;
      throw new ApiError(
        422,
        'Invalid',
        `${kind} "${name ?? ''}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
        {
          name: name ?? '',
          group: t.group,
          kind: t.kind,
          causes,
        },
      );
    }
  }

  function notFound(t: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualified(t)} "${name}" not found`, { name, group: t.group, kind: t.plural });
  }

  function requireNamespace(ns: string): void {
    if (!store.has(keyOf(TYPES[0] as ResourceType, undefined, ns)))
      throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
  }

  function stamp(t: ResourceType, body: KubeObject, ns: string | undefined, previous?: KubeObject): KubeObject {
    version++;
    return {
      ...body,
      apiVersion: apiVersionOf(t),
      kind: t.kind,
      metadata: {
        ...body.metadata,
        ...(ns ? { namespace: ns } : {}),
        uid: previous?.metadata.uid ?? randomUUID(),
        creationTimestamp: previous?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        resourceVersion: String(version),
      },
    };
  }

  function create(t: ResourceType, ns: string | undefined, body: KubeObject): { code: number; body: unknown } {
    if (t.plural === 'projectrequests') {
      const name = body.metadata?.name;
      validate(t, body, undefined);
      const nsType = TYPES[0] as ResourceType;
      if (store.has(keyOf(nsType, undefined, name)))
        throw new ApiError(409, 'AlreadyExists', `project.project.openshift.io "${name}" already exists`, {
          name,
          group: 'project.openshift.io',
          kind: 'project',
        });
      const annotations: Record<string, string> = { 'openshift.io/requester': 'infrafed' };
      if (typeof body.displayName === 'string') annotations['openshift.io/display-name'] = body.displayName;
      if (typeof body.description === 'string') annotations['openshift.io/description'] = body.description;
      const created = stamp(nsType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations } as Meta }, undefined);
      store.set(keyOf(nsType, undefined, name), created);
      return { code: 201, body: present(TYPES.find((x) => x.plural === 'projects') as ResourceType, created) };
    }
    if (t.plural === 'projects')
      throw new ApiError(403, 'Forbidden', 'projects.project.openshift.io is forbidden: use a ProjectRequest', {
        kind: 'projects',
        group: t.group,
      });
    if (t.namespaced) requireNamespace(ns as string);
    validate(t, body, ns);
    const key = keyOf(t, ns, body.metadata.name);
    if (store.has(key))
      throw new ApiError(409, 'AlreadyExists', `${qualified(t)} "${body.metadata.name}" already exists`, {
        name: body.metadata.name,
        group: t.group,
        kind: t.plural,
      });
    if (t.namespaced) admit(t, ns as string, body);
    const created = stamp(t, body, ns);
    store.set(key, created);
    return { code: 201, body: present(t, created) };
  }

  function replace(t: ResourceType, ns: string | undefined, name: string, body: KubeObject): { code: number; body: unknown } {
    const st = storageType(t);
    const key = keyOf(st, ns, name);
    const current = store.get(key);
    if (!current) throw notFound(t, name);
    if (body.metadata?.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${body.metadata?.name}) does not match the name on the URL (${name})`);
    }
    validate(st, body, ns);
    const rv = body.metadata.resourceVersion;
    if (rv !== undefined && rv !== current.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        {
          name,
          group: t.group,
          kind: t.plural,
        },
      );
    }
    if (st.plural === 'rolebindings' && JSON.stringify(body.roleRef) !== JSON.stringify(current.roleRef)) {
      throw new ApiError(
        422,
        'Invalid',
        `RoleBinding.rbac.authorization.k8s.io "${name}" is invalid: roleRef: Invalid value: ${JSON.stringify(body.roleRef)}: cannot change roleRef`,
        {
          name,
          group: st.group,
          kind: st.kind,
          causes: [{ field: 'roleRef', reason: 'FieldValueInvalid', message: 'Invalid value: cannot change roleRef' }],
        },
      );
    }
    const updated = stamp(st, { ...body, metadata: { ...body.metadata, name } }, ns, current);
    store.set(key, updated);
    return { code: 200, body: present(t, updated) };
  }

  function remove(t: ResourceType, ns: string | undefined, name: string): { code: number; body: unknown } {
    const st = storageType(t);
    const key = keyOf(st, ns, name);
    const current = store.get(key);
    if (!current) throw notFound(t, name);
    store.delete(key);
    if (st.plural === 'namespaces') {
      // everything in the namespace goes with it (a real server does this while the namespace is Terminating)
      for (const k of [...store.keys()]) if (k.split('/')[1] === name && !k.startsWith('namespaces/')) store.delete(k);
    }
    return { code: 200, body: status(200, '', '', { name, group: t.group, kind: t.plural, uid: current.metadata.uid }) };
  }

  async function readBody(req: IncomingMessage): Promise<KubeObject> {
    let text = '';
    for await (const chunk of req) text += chunk;
    try {
      return JSON.parse(text) as KubeObject;
    } catch {
      throw new ApiError(400, 'BadRequest', 'the body of the request was in an unknown format');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.headers.authorization !== `Bearer ${options.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname === '/version')
        return send(200, { major: '1', minor: '29', gitVersion: 'v1.29.0+okd-emulator', platform: 'linux/amd64' });
      // /api/v1/... or /apis/<group>/<version>/...
      const parts = url.pathname.split('/').filter(Boolean);
      let group = '';
      let rest: string[];
      if (parts[0] === 'api' && parts[1] === 'v1') rest = parts.slice(2);
      else if (parts[0] === 'apis' && parts.length >= 3) {
        group = parts[1] as string;
        rest = parts.slice(3);
      } else throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      let ns: string | undefined;
      if (rest[0] === 'namespaces' && rest.length >= 3) {
        ns = rest[1];
        rest = rest.slice(2);
      }
      const [plural, name, ...extra] = rest;
      const t = TYPES.find((x) => x.group === group && x.plural === plural);
      if (!t || extra.length > 0 || (ns && !t.namespaced))
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      const method = req.method ?? 'GET';
      if (method === 'GET' && name) {
        const found = store.get(keyOf(storageType(t), ns, name));
        if (!found) throw notFound(t, name);
        return send(200, present(t, found));
      }
      if (method === 'GET') {
        const selector = url.searchParams.get('labelSelector');
        const items = list(t, ns)
          .filter((o) => matches(selector, o.metadata.labels))
          .map((o) => present(t, o));
        return send(200, { apiVersion: apiVersionOf(t), kind: `${t.kind}List`, metadata: { resourceVersion: String(version) }, items });
      }
      const write = (r: { code: number; body: unknown }) => {
        persist();
        send(r.code, r.body);
      };
      if (method === 'POST' && !name) return write(create(t, ns, await readBody(req)));
      if (method === 'PUT' && name) return write(replace(t, ns, name, await readBody(req)));
      if (method === 'DELETE' && name) return write(remove(t, ns, name));
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    } catch (error) {
      if (error instanceof ApiError) return send(error.code, status(error.code, error.reason, error.message, error.details));
      return send(500, status(500, 'InternalError', String(error)));
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    server,
    objects: (plural, namespace) => {
      const t = TYPES.find((x) => x.plural === plural);
      return t ? list(t, namespace).map((o) => present(t, o)) : [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
