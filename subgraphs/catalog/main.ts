import { createTokenVerifier } from '../../runtime/auth.ts';
import { loadSystemConfig } from '../../runtime/config.ts';
import { startSubgraph } from '../../runtime/graphql/serveSubgraph.ts';
import { runMain } from '../../runtime/lifecycle.ts';
import { createLogger } from '../../runtime/log.ts';
import { natsReady, opsForComponent } from '../../runtime/http/ops.ts';
import { connectNats, natsOptionsOf } from '../../runtime/nats/connect.ts';
import { VERSION } from '../../runtime/version.ts';
import { createCatalogSubgraph } from './createCatalogSubgraph.ts';

const log = createLogger('subgraph-catalog');

await runMain(log, async () => {
  const config = loadSystemConfig();
  const nc = await connectNats(natsOptionsOf(config, 'subgraph-catalog'));
  const stopOps = await opsForComponent('subgraph-catalog', natsReady(nc));
  const { server, context } = createCatalogSubgraph({
    nc,
    regions: config.regions.map((r) => ({ name: r.name, displayName: r.displayName, platforms: r.platforms.map((p) => p.platform) })),
    verifyToken: createTokenVerifier(config.auth),
    log,
  });
  const httpPort = process.env.SUBGRAPH_HTTP_PORT ? Number(process.env.SUBGRAPH_HTTP_PORT) : undefined;
  const running = await startSubgraph({ nc, name: 'catalog', server, context, log, version: VERSION, httpPort });
  log.info({ httpUrl: running.httpUrl }, 'catalog subgraph ready');
  return async () => {
    await running.stop();
    await nc.drain();
    await stopOps();
  };
});
