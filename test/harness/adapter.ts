import type { NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { createKeystoneClient } from '../../adapters/openstack/client/keystoneClient.ts';
import { createNeutronClient } from '../../adapters/openstack/client/neutronClient.ts';
import { createNovaClient } from '../../adapters/openstack/client/novaClient.ts';
import { createOpenstackAdapter, type OpenstackAdapter } from '../../adapters/openstack/createOpenstackAdapter.ts';
import type { KeystoneRoleMap } from '../../adapters/openstack/mapping.ts';
import { createKubeClient } from '../../adapters/okd/client/kubeClient.ts';
import { createOkdAdapter, type OkdAdapter } from '../../adapters/okd/createOkdAdapter.ts';
import { stepCallTimeoutMs } from '../../controller/createController.ts';
import { timeoutsSchema } from '../../runtime/config.ts';
import { KEYSTONE_ADMIN_PASSWORD, type TestKeystone } from './keystone.ts';

const DEFAULT_TIMEOUTS = timeoutsSchema.parse({});
/**
 * How long a test waits for an adapter it calls directly: a change as long as the controller's saga
 * step would (`stepCallTimeoutMs` with the configuration's defaults: 15 s, a project's delete 20 s), a
 * read 8 s (the read path's own 5 s is the subgraphs' business, and a loaded test machine's Neutron
 * takes longer).
 */
export const adapterCallTimeoutMs = (resource: string, verb: string): number =>
  Math.max(8_000, stepCallTimeoutMs(resource, verb, { readMs: DEFAULT_TIMEOUTS.adapterMs, writeMs: DEFAULT_TIMEOUTS.adapterWriteMs }));

/** The OpenStack adapter of the test Keystone's region (with its Neutron and Nova, if started), in this process, logging nothing. */
export function startOpenstackAdapter(
  nc: NatsConnection,
  keystone: TestKeystone,
  options: {
    roles?: KeystoneRoleMap;
    onProjectLookup?: () => void;
    /** Every Neutron and Nova call the adapter makes (method and path), as the adapters log them at debug. */
    onVendorCall?: (call: { method: string; path: string }) => void;
  } = {},
): Promise<OpenstackAdapter> {
  const { onVendorCall } = options;
  const vendorLog = onVendorCall
    ? pino(
        { level: 'debug' },
        {
          write(line: string) {
            const entry = JSON.parse(line) as { msg?: string; method: string; path: string };
            if (entry.msg === 'vendor call') onVendorCall({ method: entry.method, path: entry.path });
          },
        },
      )
    : undefined;
  const plain = createKeystoneClient({
    url: keystone.url,
    username: 'admin',
    password: KEYSTONE_ADMIN_PASSWORD,
    projectName: 'admin',
    userDomainId: 'default',
    projectDomainId: 'default',
    timeoutMs: 4_000,
    service: `Keystone ${keystone.region}`,
    context: { region: keystone.region, platform: 'openstack' },
  });
  const { onProjectLookup } = options;
  const client: typeof plain = onProjectLookup
    ? {
        ...plain,
        listProjects: (...args: Parameters<typeof plain.listProjects>) => {
          onProjectLookup();
          return plain.listProjects(...args);
        },
      }
    : plain;
  const neutron = keystone.neutronUrl
    ? createNeutronClient({
        url: keystone.neutronUrl,
        token: client.token,
        timeoutMs: 4_000,
        service: `Neutron ${keystone.region}`,
        context: { region: keystone.region },
        log: vendorLog,
      })
    : undefined;
  const nova = keystone.novaUrl
    ? createNovaClient({
        url: keystone.novaUrl,
        token: client.token,
        timeoutMs: 4_000,
        service: `Nova ${keystone.region}`,
        context: { region: keystone.region },
        log: vendorLog,
      })
    : undefined;
  return createOpenstackAdapter({
    nc,
    region: keystone.region,
    keystone: client,
    neutron,
    nova,
    roles: options.roles,
    log: pino({ level: 'silent' }),
    version: '0.0.0',
  });
}

/** The OKD adapter of a region, talking to an emulator (or any API server) with its token, in this process. */
export function startOkdAdapter(nc: NatsConnection, region: string, apiUrl: string, token: string): Promise<OkdAdapter> {
  const kube = createKubeClient({ apiUrl, token, timeoutMs: 4_000, service: `OKD ${region}`, context: { region, platform: 'okd' } });
  return createOkdAdapter({ nc, region, kube, log: pino({ level: 'silent' }), version: '0.0.0' });
}
