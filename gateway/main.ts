import { buildASTSchema, parse } from 'graphql';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { serveWebSockets } from './webSockets.ts';
import { SubgraphName, subgraphServiceName } from '../schema/subjects.ts';
import { allOf, closeGracefully, httpFace, natsReady, servicesReady, type ReadinessCheck } from '../runtime/http/ops.ts';
import { setComponent } from '../runtime/metrics.ts';
import { SUPERGRAPH_PATH } from './supergraphPath.ts';
import { createTokenVerifier } from '../runtime/auth.ts';
import { createSignIn } from './signIn.ts';
import { loadSystemConfig } from '../runtime/config.ts';
import { runMain } from '../runtime/lifecycle.ts';
import { createLogger } from '../runtime/log.ts';
import { connectNats, natsOptionsOf } from '../runtime/nats/connect.ts';
import { createGateway } from './createGateway.ts';
import { collectWhenIdle } from '../runtime/idleGc.ts';
import { bindReadGeneration } from '../runtime/nats/readGeneration.ts';

const log = createLogger('gateway');

await runMain(log, async () => {
  const config = loadSystemConfig();
  const nc = await connectNats(natsOptionsOf(config, 'gateway'));
  setComponent('gateway');
  // "supergraph loaded": the supergraph the runtime is given parses as a schema; checked once at start,
  // each probe reports it
  const supergraphSdl = readFileSync(SUPERGRAPH_PATH, 'utf8');
  let loaded: true | string = true;
  try {
    buildASTSchema(parse(supergraphSdl), { assumeValidSDL: true });
  } catch (error) {
    loaded = (error as Error).message;
  }
  // a session of a principal that belongs to no organisation yet passes: it may answer invitations
  const verifyToken = createTokenVerifier(config.auth, { allowUnaffiliated: true });
  const gateway = createGateway({
    nc,
    verifyToken,
    providerIssuers: new Set((config.auth.identityProviders ?? []).map((p) => p.issuer)),
    signIn: createSignIn(nc, { timeoutMs: config.timeouts.gatewayMs }),
    timeoutMs: config.timeouts.gatewayMs,
    log,
    supergraph: supergraphSdl,
    limits: config.gateway.limits,
    responseCache: config.gateway.responseCache,
    // each read asks JetStream for the generation: a JetStream that does not answer in 500 ms costs that
    // read its cache, never its answer
    readGeneration: bindReadGeneration(nc, 500),
  });
  const supergraph: ReadinessCheck = async () => ({ supergraph: loaded });
  const ready = allOf(natsReady(nc), servicesReady(nc, Object.values(SubgraphName).map(subgraphServiceName)), supergraph);
  const http = createServer(httpFace(gateway, { log, ready, operationOf: () => 'graphql' }));
  // after a minute without a request, the garbage of the last burst goes (with --expose-gc: GATEWAY_NODE_ARGS).
  // Not sooner: the next burst pays the heap's regrowth (10 s made the bench's hits cost 25% more gateway CPU)
  const idle = collectWhenIdle(60_000);
  http.on('request', idle.busy);
  await new Promise<void>((resolve) => http.listen(config.gateway.port, config.gateway.host, resolve));
  const { port } = http.address() as { port: number };
  const sockets = serveWebSockets(http, gateway, { verifyToken, log, url: `http://${config.gateway.host}:${port}/graphql` });
  log.info({ url: `http://${config.gateway.host}:${port}/graphql` }, 'gateway ready');
  return async () => {
    idle.stop();
    await sockets.close();
    await closeGracefully(http);
    await gateway.dispose();
    await nc.drain();
  };
});
