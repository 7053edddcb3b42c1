import { loadSystemConfig, resolveSecret, ConfigError } from '../../runtime/config.ts';
import { runMain } from '../../runtime/lifecycle.ts';
import { createLogger } from '../../runtime/log.ts';
import { connectNats, natsOptionsOf } from '../../runtime/nats/connect.ts';
import { natsReady, opsForComponent } from '../../runtime/http/ops.ts';
import { VERSION } from '../../runtime/version.ts';
import { createKeystoneClient } from './client/keystoneClient.ts';
import { createNeutronClient } from './client/neutronClient.ts';
import { createNovaClient } from './client/novaClient.ts';
import { createOpenstackAdapter } from './createOpenstackAdapter.ts';

const region = process.env.INFRAFED_REGION ?? '';
const log = createLogger(`adapter-openstack-${region || 'unknown'}`);

await runMain(log, async () => {
  const config = loadSystemConfig();
  const regionConfig = config.regions.find((r) => r.name === region);
  if (!regionConfig) {
    throw new ConfigError('the environment', [
      `INFRAFED_REGION: must be one of ${config.regions.map((r) => r.name).join(', ')} (got ${JSON.stringify(region)})`,
    ]);
  }
  const platform = regionConfig.platforms.find((p) => p.platform === 'openstack');
  if (!platform) throw new ConfigError('the configuration', [`regions.${region}: has no openstack platform`]);
  const nc = await connectNats(
    natsOptionsOf(config, `adapter-${region}-openstack`, `adapter-openstack-${region}`, regionConfig.natsServers),
  );
  const stopOps = await opsForComponent(`adapter-openstack`, natsReady(nc));
  const keystone = createKeystoneClient({
    url: platform.keystoneUrl,
    username: platform.username,
    password: resolveSecret(platform.password),
    projectName: platform.projectName,
    userDomainId: platform.userDomainId,
    projectDomainId: platform.projectDomainId,
    timeoutMs: config.timeouts.vendorMs,
    service: `Keystone ${region}`,
    context: { region, platform: 'openstack' },
    log,
  });
  const neutron = platform.neutronUrl
    ? createNeutronClient({
        url: platform.neutronUrl,
        token: keystone.token,
        timeoutMs: config.timeouts.vendorMs,
        service: `Neutron ${region}`,
        context: { region, platform: 'openstack' },
        log,
      })
    : undefined;
  const nova = platform.novaUrl
    ? createNovaClient({
        url: platform.novaUrl,
        token: keystone.token,
        timeoutMs: config.timeouts.vendorMs,
        service: `Nova ${region}`,
        context: { region, platform: 'openstack' },
        log,
      })
    : undefined;
  const adapter = await createOpenstackAdapter({
    nc,
    region,
    keystone,
    neutron,
    nova,
    externalNetwork: platform.externalNetwork,
    roles: platform.roles,
    maxConcurrent: config.adapters.maxConcurrent,
    projectCacheMs: config.adapters.projectCacheSeconds * 1000,
    vendorTimeoutMs: config.timeouts.vendorMs,
    log,
    version: VERSION,
  });
  log.info(
    { region, keystone: platform.keystoneUrl, neutron: platform.neutronUrl ?? null, nova: platform.novaUrl ?? null },
    'openstack adapter ready',
  );
  return async () => {
    await adapter.stop();
    await nc.drain();
    await stopOps();
  };
});
