import { hostname } from 'node:os';
import { createTokenVerifier } from '../runtime/auth.ts';
import { loadSystemConfig, placementsOf } from '../runtime/config.ts';
import { runMain } from '../runtime/lifecycle.ts';
import { createLogger } from '../runtime/log.ts';
import { natsReady, opsForComponent } from '../runtime/http/ops.ts';
import { connectNats, natsOptionsOf } from '../runtime/nats/connect.ts';
import { VERSION } from '../runtime/version.ts';
import { createController } from './createController.ts';
import { openAudit } from './audit.ts';
import { openLedger } from './ledger.ts';
import { openControllerStore } from './store.ts';

const log = createLogger('controller');

await runMain(log, async () => {
  const config = loadSystemConfig();
  const replicaId = `${hostname()}-${process.pid}`;
  const nc = await connectNats(natsOptionsOf(config, 'controller', `controller-${replicaId}`));
  const stopOps = await opsForComponent('controller', natsReady(nc));
  const store = await openControllerStore(nc, { operationHistoryDays: config.controller.operationHistoryDays });
  const ledger = await openLedger(nc);
  const audit = await openAudit(nc, { log, maxAgeDays: config.controller.audit.maxAgeDays, maxBytes: config.controller.audit.maxBytes });
  const controller = await createController({
    nc,
    store,
    ledger,
    audit,
    verifyToken: createTokenVerifier(config.auth),
    placements: placementsOf(config),
    log,
    version: VERSION,
    replicaId,
    adapterTimeoutMs: config.timeouts.adapterMs,
    leaseMs: config.timeouts.operationLeaseMs,
    usageSyncIntervalMs: 300_000,
  });
  // operations a stopped replica left behind are taken over at once, not at the first tick
  await controller.sweep();
  log.info({ replicaId }, 'controller ready');
  return async () => {
    await controller.stop();
    await nc.drain();
    await stopOps();
  };
});
