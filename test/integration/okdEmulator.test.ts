import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startOkdEmulator, type OkdEmulator } from '../../platforms/okd/emulator.ts';

/** The Kubernetes behaviours the OKD adapter relies on, as the emulator reproduces them (wire level). */
describe('OKD API emulator: Kubernetes semantics over HTTP', () => {
  let api: OkdEmulator;
  const TOKEN = 'sa-token';
  const call = async (method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    // a cluster-admin token: these tests use the API beyond what the adapter's ClusterRole allows (see the RBAC tests below)
    api = await startOkdEmulator({ token: TOKEN, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }], terminationMs: 200 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('refuses a missing or wrong bearer token with a 401 Status', async () => {
    const res = await call('GET', '/api/v1/namespaces', undefined, 'wrong');
    expect(res).toEqual({
      status: 401,
      body: expect.objectContaining({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 }),
    });
  });

  it('creates a project through a ProjectRequest; a second one is 409 AlreadyExists; a missing one 404 NotFound', async () => {
    const made = await call('POST', '/apis/project.openshift.io/v1/projectrequests', {
      apiVersion: 'project.openshift.io/v1',
      kind: 'ProjectRequest',
      metadata: { name: 'team-a' },
      displayName: 'Team A',
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      kind: 'Project',
      metadata: { name: 'team-a', annotations: { 'openshift.io/display-name': 'Team A' } },
      status: { phase: 'Active' },
    });
    // the OpenShift Project view of the namespace (the adapter's own ClusterRole does not read it: the e2e suites check the namespace)
    const view = await call('GET', '/apis/project.openshift.io/v1/projects/team-a');
    expect([view.status, view.body.kind, view.body.metadata.name]).toEqual([200, 'Project', 'team-a']);
    const again = await call('POST', '/apis/project.openshift.io/v1/projectrequests', { metadata: { name: 'team-a' } });
    expect(again).toEqual({ status: 409, body: expect.objectContaining({ reason: 'AlreadyExists', code: 409 }) });
    const missing = await call('GET', '/apis/project.openshift.io/v1/projects/nope');
    expect(missing).toEqual({
      status: 404,
      body: expect.objectContaining({ kind: 'Status', reason: 'NotFound', message: 'projects.project.openshift.io "nope" not found' }),
    });
  });

  it('enforces optimistic concurrency: a PUT with a stale resourceVersion is 409 Conflict and changes nothing', async () => {
    const ns = (await call('GET', '/api/v1/namespaces/team-a')).body;
    const first = await call('PUT', '/api/v1/namespaces/team-a', { ...ns, metadata: { ...ns.metadata, labels: { a: '1' } } });
    expect(first.status).toBe(200);
    expect(Number(first.body.metadata.resourceVersion)).toBeGreaterThan(Number(ns.metadata.resourceVersion));
    const stale = await call('PUT', '/api/v1/namespaces/team-a', { ...ns, metadata: { ...ns.metadata, labels: { a: '2' } } });
    expect(stale).toEqual({
      status: 409,
      body: expect.objectContaining({ reason: 'Conflict', message: expect.stringContaining('the object has been modified') }),
    });
    expect((await call('GET', '/api/v1/namespaces/team-a')).body.metadata.labels).toEqual({ a: '1' });
  });

  it('answers 422 Invalid with every cause, and selects by label', async () => {
    const bad = await call('POST', '/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies', {
      metadata: { name: 'Bad_Name' },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'ICMP', port: 70000 }] }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.reason).toBe('Invalid');
    expect(bad.body.details.causes.map((c: { field: string }) => c.field)).toEqual([
      'metadata.name',
      'spec.ingress[0].ports[0].protocol',
      'spec.ingress[0].ports[0].port',
    ]);
    for (const [name, tier] of [
      ['web', 'front'],
      ['db', 'back'],
    ]) {
      await call('POST', '/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies', {
        metadata: { name, labels: { tier } },
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
      });
    }
    const front = await call('GET', '/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies?labelSelector=tier%3Dfront');
    expect(front.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['web']);
    const notFront = await call('GET', '/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies?labelSelector=tier!%3Dfront');
    expect(notFront.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['db']);
  });

  it('admits creates only within a ResourceQuota (403 exceeded quota) and reports its use', async () => {
    await call('POST', '/api/v1/namespaces/team-a/resourcequotas', {
      metadata: { name: 'q' },
      spec: { hard: { pods: '1', 'count/networkpolicies.networking.k8s.io': '2' } },
    });
    const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '250m' } } }] } });
    expect((await call('POST', '/api/v1/namespaces/team-a/pods', pod('p1'))).status).toBe(201);
    const over = await call('POST', '/api/v1/namespaces/team-a/pods', pod('p2'));
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({
      reason: 'Forbidden',
      message: 'pods "p2" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1',
    });
    const policy = await call('POST', '/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies', {
      metadata: { name: 'third' },
      spec: { podSelector: {} },
    });
    expect(policy.body.message).toContain(
      'exceeded quota: q, requested: count/networkpolicies.networking.k8s.io=1, used: count/networkpolicies.networking.k8s.io=2',
    );
    const quota = await call('GET', '/api/v1/namespaces/team-a/resourcequotas/q');
    expect(quota.body.status).toEqual({
      hard: { pods: '1', 'count/networkpolicies.networking.k8s.io': '2' },
      used: { pods: '1', 'count/networkpolicies.networking.k8s.io': '2' },
    });
  });

  it('keeps a RoleBinding’s roleRef immutable, and deleting a project deletes what is in it', async () => {
    const rb = {
      metadata: { name: 'alice' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', name: 'alice' }],
    };
    const made = await call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', rb);
    const changed = await call('PUT', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/alice', {
      ...made.body,
      roleRef: { ...rb.roleRef, name: 'admin' },
    });
    expect(changed).toEqual({
      status: 422,
      body: expect.objectContaining({ reason: 'Invalid', message: expect.stringContaining('cannot change roleRef') }),
    });
    const deleted = await call('DELETE', '/apis/project.openshift.io/v1/projects/team-a');
    expect([deleted.status, deleted.body.status?.phase]).toEqual([200, 'Terminating']);
    // Terminating: still there with its labels; no new content; not re-creatable; deleting again is 409
    const ns = await call('GET', '/api/v1/namespaces/team-a');
    expect([ns.status, ns.body.status.phase, typeof ns.body.metadata.deletionTimestamp]).toEqual([200, 'Terminating', 'string']);
    expect((await call('GET', '/api/v1/namespaces')).body.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toContain(
      'team-a',
    );
    const more = await call('POST', '/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies', {
      metadata: { name: 'late' },
      spec: { podSelector: {} },
    });
    expect([more.status, more.body.message]).toEqual([403, expect.stringContaining('because it is being terminated')]);
    expect((await call('POST', '/apis/project.openshift.io/v1/projectrequests', { metadata: { name: 'team-a' } })).status).toBe(409);
    expect((await call('DELETE', '/api/v1/namespaces/team-a')).status).toBe(409);
    await new Promise((r) => setTimeout(r, 400));
    expect(api.objects('rolebindings', 'team-a')).toEqual([]);
    expect(api.objects('networkpolicies', 'team-a')).toEqual([]);
    expect((await call('GET', '/api/v1/namespaces/team-a')).status).toBe(404);
  });

  it('stores quantities in canonical form: what a client reads back is not always what it wrote', async () => {
    await call('POST', '/apis/project.openshift.io/v1/projectrequests', { metadata: { name: 'team-q' } });
    const made = await call('POST', '/api/v1/namespaces/team-q/resourcequotas', {
      metadata: { name: 'q' },
      spec: {
        hard: { 'requests.memory': '4096Mi', 'requests.cpu': '2000m', pods: '1000', 'limits.cpu': '1.5', persistentvolumeclaims: '1e3' },
      },
    });
    expect(made.body.spec.hard).toEqual({
      'requests.memory': '4Gi',
      'requests.cpu': '2',
      pods: '1k',
      'limits.cpu': '1500m',
      persistentvolumeclaims: '1e3',
    });
  });
});

/** The adapter's ClusterRole (deploy/okd/adapter-clusterrole.yaml), as the emulator enforces it by default. */
describe('OKD API emulator: RBAC of the adapter service account', () => {
  let api: OkdEmulator;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: 'Bearer sa', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  beforeAll(async () => {
    api = await startOkdEmulator({ token: 'sa' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers 403 (not 404) for what the ClusterRole does not grant, naming the verb, resource and scope', async () => {
    const secrets = await call('GET', '/api/v1/namespaces/kube-system/pods/etcd-0');
    expect([secrets.status, secrets.body.reason, secrets.body.message]).toEqual([
      403,
      'Forbidden',
      'pods "etcd-0" is forbidden: User "system:serviceaccount:infrafed:okd-adapter" cannot get resource "pods" in API group "" in the namespace "kube-system"',
    ]);
    expect((await call('DELETE', '/api/v1/namespaces/anything')).status).toBe(403);
    expect((await call('GET', '/apis/project.openshift.io/v1/projects')).status).toBe(403);
    // what it does need works
    expect((await call('POST', '/apis/project.openshift.io/v1/projectrequests', { metadata: { name: 'p1' } })).status).toBe(201);
    expect((await call('GET', '/api/v1/namespaces/p1')).status).toBe(200);
  });

  it('lets the adapter bind view, edit and admin only (RBAC escalation check on RoleBindings)', async () => {
    const binding = (role: string) => ({
      metadata: { name: `b-${role}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'User', name: 'acme:alice' }],
    });
    expect((await call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/p1/rolebindings', binding('edit'))).status).toBe(201);
    const admin = await call('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/p1/rolebindings', binding('cluster-admin'));
    expect([admin.status, admin.body.message]).toEqual([
      403,
      expect.stringContaining('attempting to grant RBAC permissions not currently held'),
    ]);
  });
});
