import { loadSystemConfig, placementsOf } from '../runtime/config.ts';
import { runMain } from '../runtime/lifecycle.ts';
import { closeGracefully } from '../runtime/http/ops.ts';
import { setComponent } from '../runtime/metrics.ts';
import { createLogger } from '../runtime/log.ts';
import { VERSION } from '../runtime/version.ts';
import { createRestBridge } from './createRestBridge.ts';

const log = createLogger('rest-bridge');

await runMain(log, async () => {
  const config = loadSystemConfig();
  setComponent('rest-bridge');
  const gatewayHost = config.gateway.host === '0.0.0.0' || config.gateway.host === '::' ? '127.0.0.1' : config.gateway.host;
  const gatewayUrl = config.restBridge.gatewayUrl ?? `http://${gatewayHost}:${config.gateway.port}/graphql`;
  // the gateway's own bound plus a little: its timeout answers first, with a GraphQL error
  const { server } = createRestBridge({
    gatewayUrl,
    timeoutMs: config.timeouts.gatewayMs + 2_000,
    log,
    version: VERSION,
    placements: placementsOf(config),
  });
  await new Promise<void>((resolve) => server.listen(config.restBridge.port, config.restBridge.host, resolve));
  const { port } = server.address() as { port: number };
  log.info(
    { url: `http://${config.restBridge.host}:${port}`, gatewayUrl, docs: `http://${config.restBridge.host}:${port}/docs` },
    'rest-bridge ready',
  );
  return async () => {
    await closeGracefully(server);
  };
});
