import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/**
 * An emulator of the few Kubernetes / OpenShift API groups infrafed uses, for tests and the local system
 * (no API server can be installed here). It speaks the real wire protocol (same paths, objects and
 * `Status` errors) and reproduces the behaviour a client can observe: resourceVersion and optimistic
 * concurrency (409 Conflict), 409 AlreadyExists, 404 NotFound, 422 Invalid with `details.causes`, label
 * selectors, bearer-token auth (401), ResourceQuota admission (403 Forbidden "exceeded quota") with the
 * quota's `status.used`, an immutable RoleBinding `roleRef`, and namespace deletion taking its objects.
 * It authorises every request against the rules of the token's ClusterRole (403 Forbidden, before any
 * 404, as RBAC does; binding view/edit/admin needs `bind` on them), keeps a deleted namespace Terminating
 * for a while (still listed with its labels; new content in it is refused with 403, re-creating it is 409,
 * deleting it again is 409), and stores quantities in canonical form (`4096Mi` reads back as `4Gi`).
 * Not reproduced: watches, PATCH, field selectors, pagination, finalizers.
 */

interface Meta {
  name: string;
  /** Set when a namespace is being deleted (Terminating). */
  deletionTimestamp?: string;
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
/** A Kubernetes quantity: sign, number, and a binary suffix, a decimal suffix or a decimal exponent. */
const QUANTITY = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** Kubernetes quantities as numbers (cpu in cores, memory in bytes, counts as they are); NaN when malformed. */
export function parseQuantity(q: string): number {
  const m = QUANTITY.exec(q);
  if (!m) return Number.NaN;
  const [, sign, digits, binary, decimal, exponent] = m;
  const n = Number(digits) * (sign === '-' ? -1 : 1);
  if (binary) return n * (BINARY[binary] as number);
  return n * 10 ** (exponent !== undefined ? Number(exponent) : (DECIMAL[decimal ?? ''] as number));
}

/**
 * The canonical form the API server stores and returns a quantity in (what a client reads back is not
 * what it wrote): the largest suffix of the quantity's own format that keeps it exact, e.g. `4096Mi` →
 * `4Gi`, `2000m` → `2`, `1.5` → `1500m`, `1000` → `1k`, `1e3` stays an exponent; a binary quantity that is
 * no whole multiple of 1024 falls back to decimal (`0.5Ki` → `512`).
 */
export function canonicalQuantity(q: string): string {
  const m = QUANTITY.exec(q);
  if (!m) return q;
  const value = parseQuantity(q);
  if (value === 0) return '0';
  const round = (x: number) => Math.round(x * 1e9) / 1e9;
  if (m[3] && Number.isInteger(value)) {
    for (const [suffix, factor] of Object.entries(BINARY).reverse())
      if (value !== 0 && value % factor === 0) return `${value / factor}${suffix}`;
    if (Math.abs(value) < 1024) return String(value);
  }
  const exponentForm = m[5] !== undefined;
  for (const [suffix, power] of Object.entries(DECIMAL).sort((a, b) => b[1] - a[1])) {
    const scaled = round(value / 10 ** power);
    if (Number.isInteger(scaled) && Math.abs(scaled) >= 1) {
      if (exponentForm) return power === 0 ? String(scaled) : `${scaled}e${power}`;
      return `${scaled}${suffix}`;
    }
  }
  return String(value);
}

/** Stores a ResourceQuota's limits as the API server does: in canonical form. */
function canonicalHard(obj: KubeObject): void {
  const spec = obj.spec as { hard?: Record<string, string> } | undefined;
  if (spec?.hard) spec.hard = Object.fromEntries(Object.entries(spec.hard).map(([k, v]) => [k, canonicalQuantity(v)]));
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
  /**
   * What the token may do (the rules of the ClusterRole bound to it). Default: the adapter's ClusterRole,
   * deploy/okd/adapter-clusterrole.yaml, so the tests prove that file is enough and that nothing more is used.
   */
  rules?: PolicyRule[];
  /** How long a deleted namespace stays Terminating (listed, labels intact) before it and its objects are gone; default 1 000 ms. */
  terminationMs?: number;
}

/** One rule of a (Cluster)Role. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const ADAPTER_CLUSTER_ROLE = fileURLToPath(new URL('../../deploy/okd/adapter-clusterrole.yaml', import.meta.url));

/** The rules of the ClusterRole the OKD adapter is documented to need. */
export function adapterClusterRoleRules(): PolicyRule[] {
  return (parseYaml(readFileSync(ADAPTER_CLUSTER_ROLE, 'utf8')) as { rules: PolicyRule[] }).rules;
}

/** The identity the emulator's token stands for (a service account bound to the ClusterRole). */
const SERVICE_ACCOUNT = 'system:serviceaccount:infrafed:okd-adapter';

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
  const rules = options.rules ?? adapterClusterRoleRules();
  const terminationMs = options.terminationMs ?? 1_000;
  const timers = new Set<NodeJS.Timeout>();
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
    const phase = obj.metadata.deletionTimestamp ? 'Terminating' : 'Active';
    if (t.plural === 'projects')
      return { ...structuredClone(obj), apiVersion: 'project.openshift.io/v1', kind: 'Project', status: { phase } };
    if (t.plural === 'namespaces') return { ...structuredClone(obj), status: { phase } };
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
    if (resource.endsWith('memory')) return canonicalQuantity(`${value / 1024}Ki`);
    return canonicalQuantity(String(Math.round(value * 1e9) / 1e9));
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

  function requireNamespace(ns: string, forNew?: { t: ResourceType; name: string }): void {
    const found = store.get(keyOf(TYPES[0] as ResourceType, undefined, ns));
    if (!found) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (forNew && found.metadata.deletionTimestamp) {
      throw new ApiError(
        403,
        'Forbidden',
        `${qualified(forNew.t)} "${forNew.name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        { name: forNew.name, group: forNew.t.group, kind: forNew.t.plural },
      );
    }
  }

  /** RBAC: the token's ClusterRole must allow the verb on the resource (and on the named object, where rules name objects). */
  function allowed(verb: string, group: string, plural: string, name?: string): boolean {
    const any = (list: string[] | undefined, x: string) => (list ?? []).includes('*') || (list ?? []).includes(x);
    return rules.some(
      (r) =>
        any(r.apiGroups, group) &&
        any(r.resources, plural) &&
        any(r.verbs, verb) &&
        (!r.resourceNames || (name !== undefined && r.resourceNames.includes(name))),
    );
  }
  function authorize(verb: string, t: ResourceType, ns: string | undefined, name?: string): void {
    if (allowed(verb, t.group, t.plural, name)) return;
    throw new ApiError(
      403,
      'Forbidden',
      `${qualified(t)}${name ? ` "${name}"` : ''} is forbidden: User "${SERVICE_ACCOUNT}" cannot ${verb} resource "${t.plural}" in API group "${t.group}" ${ns ? `in the namespace "${ns}"` : 'at the cluster scope'}`,
      { ...(name ? { name } : {}), group: t.group, kind: t.plural },
    );
  }

  /** A namespace's objects, and then the namespace, are gone once its termination ends. */
  function purge(name: string): void {
    for (const k of [...store.keys()]) if (k.split('/')[1] === name && !k.startsWith('namespaces/')) store.delete(k);
    store.delete(keyOf(TYPES[0] as ResourceType, undefined, name));
    persist();
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
    if (t.namespaced) requireNamespace(ns as string, { t, name: body.metadata?.name });
    validate(t, body, ns);
    if (t.plural === 'rolebindings') {
      // RBAC escalation check: binding a ClusterRole needs `bind` on it (or holding all it grants)
      const roleRef = body.roleRef as { name: string };
      if (!allowed('bind', 'rbac.authorization.k8s.io', 'clusterroles', roleRef.name)) {
        throw new ApiError(
          403,
          'Forbidden',
          `rolebindings.rbac.authorization.k8s.io "${body.metadata.name}" is forbidden: user "${SERVICE_ACCOUNT}" is attempting to grant RBAC permissions not currently held (bind clusterroles ${roleRef.name})`,
          { name: body.metadata.name, group: t.group, kind: t.plural },
        );
      }
    }
    if (t.plural === 'resourcequotas') canonicalHard(body);
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
    if (st.plural === 'resourcequotas') canonicalHard(body);
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
    if (st.plural === 'namespaces') {
      if (current.metadata.deletionTimestamp) {
        throw new ApiError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${qualified(t)} "${name}": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.`,
          { name, group: t.group, kind: t.plural },
        );
      }
      // Terminating: still listed with its labels while its content is removed, then gone
      const terminating = stamp(
        st,
        { ...current, metadata: { ...current.metadata, deletionTimestamp: new Date().toISOString() } },
        ns,
        current,
      );
      store.set(key, terminating);
      const timer = setTimeout(() => {
        timers.delete(timer);
        purge(name);
      }, terminationMs);
      timer.unref();
      timers.add(timer);
      return { code: 200, body: present(t, terminating) };
    }
    store.delete(key);
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
      const verb =
        method === 'GET'
          ? name
            ? 'get'
            : 'list'
          : ({ POST: 'create', PUT: 'update', DELETE: 'delete' } as Record<string, string>)[method];
      if (verb) authorize(verb, t, ns, name);
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

  // a namespace that was Terminating when the emulator stopped has finished terminating since
  for (const [k, v] of [...store.entries()]) if (k.startsWith('namespaces/') && v.metadata.deletionTimestamp) purge(v.metadata.name);
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
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
