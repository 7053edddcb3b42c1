import { loadSystemConfig, resolveSecret, ConfigError } from '../../runtime/config.ts';
import { runMain } from '../../runtime/lifecycle.ts';
import { createLogger } from '../../runtime/log.ts';
import { connectNats, natsOptionsOf } from '../../runtime/nats/connect.ts';
import { natsReady, opsForComponent } from '../../runtime/http/ops.ts';
import { VERSION } from '../../runtime/version.ts';
import { createKubeClient } from './client/kubeClient.ts';
import { createOkdAdapter } from './createOkdAdapter.ts';

const region = process.env.INFRAFED_REGION ?? '';
const log = createLogger(`adapter-okd-${region || 'unknown'}`);

await runMain(log, async () => {
  const config = loadSystemConfig();
  const regionConfig = config.regions.find((r) => r.name === region);
  if (!regionConfig) {
    throw new ConfigError('the environment', [
      `INFRAFED_REGION: must be one of ${config.regions.map((r) => r.name).join(', ')} (got ${JSON.stringify(region)})`,
    ]);
  }
  const platform = regionConfig.platforms.find((p) => p.platform === 'okd');
  if (!platform || platform.platform !== 'okd') throw new ConfigError('the configuration', [`regions.${region}: has no okd platform`]);
  const nc = await connectNats(natsOptionsOf(config, `adapter-${region}-okd`, `adapter-okd-${region}`, regionConfig.natsServers));
  const stopOps = await opsForComponent(`adapter-okd`, natsReady(nc));
  const kube = createKubeClient({
    apiUrl: platform.apiUrl,
    token: resolveSecret(platform.token),
    timeoutMs: config.timeouts.vendorMs,
    service: `OKD ${region}`,
    context: { region, platform: 'okd' },
    log,
  });
  const adapter = await createOkdAdapter({
    nc,
    region,
    kube,
    userNameTemplate: platform.userNameTemplate,
    maxConcurrent: config.adapters.maxConcurrent,
    log,
    version: VERSION,
  });
  log.info({ region, apiUrl: platform.apiUrl }, 'okd adapter ready');
  return async () => {
    await adapter.stop();
    await nc.drain();
    await stopOps();
  };
});
