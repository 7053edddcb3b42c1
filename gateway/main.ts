import { createServer } from 'node:http';
import { createTokenVerifier } from '../runtime/auth.ts';
import { loadSystemConfig } from '../runtime/config.ts';
import { runMain } from '../runtime/lifecycle.ts';
import { createLogger } from '../runtime/log.ts';
import { connectNats, natsOptionsOf } from '../runtime/nats/connect.ts';
import { createGateway } from './createGateway.ts';

const log = createLogger('gateway');

await runMain(log, async () => {
  const config = loadSystemConfig();
  const nc = await connectNats(natsOptionsOf(config, 'gateway'));
  const gateway = createGateway({ nc, verifyToken: createTokenVerifier(config.auth), timeoutMs: config.timeouts.gatewayMs, log });
  const http = createServer(gateway);
  await new Promise<void>((resolve) => http.listen(config.gateway.port, config.gateway.host, resolve));
  const { port } = http.address() as { port: number };
  log.info({ url: `http://${config.gateway.host}:${port}/graphql` }, 'gateway ready');
  return async () => {
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await gateway.dispose();
    await nc.drain();
  };
});
