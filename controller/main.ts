import { hostname } from 'node:os';
import { authConfigSchema, createProviderVerifier, createTokenVerifier, signSession } from '../runtime/auth.ts';
import { loadSystemConfig, placementsOf } from '../runtime/config.ts';
import { runMain } from '../runtime/lifecycle.ts';
import { createLogger } from '../runtime/log.ts';
import { natsReady, opsForComponent } from '../runtime/http/ops.ts';
import { connectNats, natsOptionsOf } from '../runtime/nats/connect.ts';
import { VERSION } from '../runtime/version.ts';
import { createController } from './createController.ts';
import { openAudit } from './audit.ts';
import { openEvents } from './events.ts';
import { openLedger } from './ledger.ts';
import { openControllerStore } from './store.ts';
import { openJsonStore, openPeopleStore } from './people.ts';
import { Bucket } from '../schema/subjects.ts';
import { openBucket, whenJetStreamAnswers } from './durable.ts';
import { readGenerationOf, withReadGenerationKey } from '../runtime/nats/readGeneration.ts';

const log = createLogger('controller');

await runMain(log, async () => {
  const config = loadSystemConfig();
  const replicaId = `${hostname()}-${process.pid}`;
  const nc = await connectNats(natsOptionsOf(config, 'controller', `controller-${replicaId}`));
  const stopOps = await opsForComponent('controller', natsReady(nc));
  const { replicas } = config.controller;
  const auth = authConfigSchema.parse(config.auth);
  const { store, ledger, audit, events, people, requests, webhooks, readGeneration } = await whenJetStreamAnswers(
    async () => ({
      readGeneration: readGenerationOf(await withReadGenerationKey(await openBucket(nc, Bucket.readGeneration, { replicas, history: 1 }))),
      store: await openControllerStore(nc, { replicas, operationHistoryDays: config.controller.operationHistoryDays }),
      people: await openPeopleStore(nc, { replicas }),
      requests: await openJsonStore(nc, Bucket.requests, { replicas }),
      webhooks: await openJsonStore(nc, Bucket.webhooks, { replicas }),
      ledger: await openLedger(nc, { replicas }),
      audit: await openAudit(nc, {
        log,
        replicas,
        maxAgeDays: config.controller.audit.maxAgeDays,
        maxBytes: config.controller.audit.maxBytes,
      }),
      events: await openEvents(nc, {
        log,
        replicas,
        maxAgeDays: config.controller.events.maxAgeDays,
        maxBytes: config.controller.events.maxBytes,
      }),
    }),
    (error) => log.warn({ err: error }, 'JetStream not answering yet; trying again'),
  );
  if (replicas === 1 && nc.info?.cluster)
    log.warn({ cluster: nc.info.cluster }, 'controller.replicas is 1 on a NATS cluster: its state does not survive the loss of a node');
  const controller = await createController({
    nc,
    store,
    ledger,
    audit,
    events,
    verifyToken: createTokenVerifier(config.auth, { allowUnaffiliated: true }),
    people,
    requests,
    webhooks,
    webhookOptions: {
      retrySeconds: config.controller.webhooks.retrySeconds,
      allowPrivateTargets: config.controller.webhooks.allowPrivateTargets,
      timeoutMs: config.controller.webhooks.timeoutSeconds * 1000,
    },
    verifyProviderToken: auth.identityProviders.length ? createProviderVerifier(config.auth) : undefined,
    sessions: {
      providers: auth.identityProviders.map((p) => p.name),
      signSession: auth.sessions ? (session) => signSession(config.auth, session) : undefined,
      sessionTtlSeconds: auth.sessions?.ttlSeconds,
      invitations: config.controller.invitations,
    },
    placements: placementsOf(config),
    log,
    version: VERSION,
    replicaId,
    adapterTimeoutMs: config.timeouts.adapterMs,
    adapterWriteTimeoutMs: config.timeouts.adapterWriteMs,
    leaseMs: config.timeouts.operationLeaseMs,
    readGeneration,
    // a replica that stopped is noticed within a lease and a third (the record unchanged for a lease, then a sweep)
    sweepIntervalMs: Math.ceil(config.timeouts.operationLeaseMs / 3),
    undoRetryMs: config.controller.undoRetrySeconds * 1000,
    usageSyncIntervalMs: 300_000,
  });
  // operations a stopped replica left behind are taken over at once, not at the first tick
  await controller.sweep();
  log.info({ replicaId, replicas }, 'controller ready');
  return async () => {
    await controller.stop();
    await nc.drain();
    await stopOps();
  };
});
