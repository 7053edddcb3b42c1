import { createTokenVerifier } from '../../runtime/auth.ts';
import { loadSystemConfig, placementsOf } from '../../runtime/config.ts';
import { startSubgraph } from '../../runtime/graphql/serveSubgraph.ts';
import { runMain } from '../../runtime/lifecycle.ts';
import { createLogger } from '../../runtime/log.ts';
import { connectNats } from '../../runtime/nats/connect.ts';
import { createControllerClient } from '../../runtime/nats/controllerClient.ts';
import { VERSION } from '../../runtime/version.ts';
import { createIdentitySubgraph } from './createIdentitySubgraph.ts';

const log = createLogger('subgraph-identity');

await runMain(log, async () => {
  const config = loadSystemConfig();
  const nc = await connectNats({ servers: config.nats.servers, name: 'subgraph-identity' });
  const { server, context } = createIdentitySubgraph({
    nc,
    controller: createControllerClient(nc, { waitMs: config.timeouts.operationWaitMs }),
    verifyToken: createTokenVerifier(config.auth),
    placements: placementsOf(config),
    adapterTimeoutMs: config.timeouts.adapterMs,
    log,
  });
  const httpPort = process.env.SUBGRAPH_HTTP_PORT ? Number(process.env.SUBGRAPH_HTTP_PORT) : undefined;
  const running = await startSubgraph({ nc, name: 'identity', server, context, log, version: VERSION, httpPort });
  log.info({ httpUrl: running.httpUrl }, 'identity subgraph ready');
  return async () => {
    await running.stop();
    await nc.drain();
  };
});
