import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';

/**
 * The controller's JetStream state is replicated as configured (`controller.replicas`: 3 on a three-node
 * cluster, 1 on the single local server). These helpers create each bucket and stream with that count and
 * refuse to start, with the reason, when the cluster cannot hold that many copies or an existing one has
 * another count (the controller may not edit streams: its NATS user is denied STREAM.UPDATE; an operator
 * changes the count, e.g. `nats stream edit KV_infrafed_operations --replicas 3`).
 */

/** The stream behind a KV bucket. */
export const kvStream = (bucket: string) => `KV_${bucket}`;

/** Refused at start: the configured replica count does not fit the cluster. */
export class ReplicationError extends Error {
  override name = 'ReplicationError';
}

function explain(stream: string, replicas: number, error: unknown): Error {
  const message = String((error as Error).message ?? error);
  if (/replicas > 1 not supported in non-clustered mode|insufficient resources|no suitable peers/i.test(message)) {
    return new ReplicationError(
      `controller.replicas is ${replicas}, but the NATS cluster cannot hold ${replicas} copies of ${stream} ` +
        `(${message}); run a cluster of at least ${replicas} JetStream servers, or lower controller.replicas`,
    );
  }
  return error as Error;
}

/**
 * Checks a stream has `replicas` copies, each on a server (the cluster's size is checked here), and waits
 * until a replicated stream has a leader (a new one elects it within moments; reads before that time out).
 */
async function ensureReplicas(jsm: JetStreamManager, stream: string, replicas: number): Promise<void> {
  let info = await jsm.streams.info(stream);
  if (replicas > 1 && info.config.allow_direct && stream.startsWith('KV_')) {
    throw new ReplicationError(
      `${stream} answers reads from every replica (allow_direct), a lagging one with stale state: ` +
        `turn it off (nats stream edit ${stream} --no-allow-direct, as a NATS user allowed to edit streams)`,
    );
  }
  if (info.config.num_replicas !== replicas) {
    throw new ReplicationError(
      `${stream} has ${info.config.num_replicas} copies, controller.replicas says ${replicas}: change one of them ` +
        `(e.g. nats stream edit ${stream} --replicas ${replicas}, as a NATS user allowed to edit streams)`,
    );
  }
  // a clustered stream names its leader and the other peers; a single server has no cluster block
  const copiesOf = (i: StreamInfo) => (i.cluster ? 1 + (i.cluster.replicas?.length ?? 0) : 1);
  // a stream just made (by this replica or another starting beside it) may name its leader before its
  // other peers have reported: wait for both, up to 10 s
  for (let i = 0; replicas > 1 && (!info.cluster?.leader || copiesOf(info) < replicas) && i < 100; i++) {
    await sleep(100);
    info = await jsm.streams.info(stream);
  }
  const copies = copiesOf(info);
  if (copies < replicas) {
    throw new ReplicationError(
      `${stream} has ${copies} of its ${replicas} copies placed; the NATS cluster is smaller than controller.replicas`,
    );
  }
}

/**
 * A KV bucket with `replicas` copies (created with them, or checked to have them). Reads go to the stream's
 * leader (`allow_direct` off): with direct gets any replica answers, and one catching up after a restart
 * answers with what it has, so a compare-and-set writer, a replayed Idempotency-Key or the sweeper could
 * act on a state that is no longer true.
 */
export async function openBucket(nc: NatsConnection, name: string, options: Partial<KvOptions> & { replicas: number }): Promise<KV> {
  let kv: KV;
  try {
    kv = await new Kvm(nc).create(name, { ...options, allow_direct: false });
  } catch (error) {
    throw explain(kvStream(name), options.replicas, error);
  }
  await ensureReplicas(await jetstreamManager(nc), kvStream(name), options.replicas);
  return kv;
}

/** A stream with `replicas` copies (created with them, or checked to have them); its other limits apply only when created. */
export async function openStream(
  nc: NatsConnection,
  config: Partial<StreamConfig> & { name: string; num_replicas: number },
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(config.name);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (error) {
      throw explain(config.name, config.num_replicas, error);
    }
  }
  await ensureReplicas(jsm, config.name, config.num_replicas);
}

/**
 * Runs `open` (the controller's buckets and streams) until JetStream answers: a cluster that is still
 * electing leaders (a fresh one, or one that lost a server) makes the first requests time out. A
 * `ReplicationError` is final. Gives up after `timeoutMs`.
 */
export async function whenJetStreamAnswers<T>(open: () => Promise<T>, onRetry: (error: unknown) => void, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (error instanceof ReplicationError || Date.now() > deadline) throw error;
      onRetry(error);
      await sleep(backoffMs(attempt, 250, 5_000) + 250);
    }
  }
}

/** Compare-and-set lost to another writer (JetStream: wrong last sequence; a create: key exists). */
export function isCasConflict(error: unknown): boolean {
  return /wrong last sequence|key exists/i.test(String((error as Error)?.message ?? error));
}

/**
 * The pause before attempt `attempt` (0-based) of something retried: exponential from `baseMs`, capped at
 * `maxMs`, with full jitter (writers that collided do not collide again in step).
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

/**
 * Read, change, compare-and-set on the revision read; again (after a back-off) when another writer got
 * there first. `change` returns the new value, `null` to delete the key, or `undefined` to leave it.
 */
export async function casUpdate<T>(
  kv: KV,
  key: string,
  parse: (json: unknown) => T,
  change: (current: T | null) => T | null | undefined,
  encode: (value: T) => Uint8Array,
  attempts = 50,
): Promise<T | null> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const entry = await kv.get(key);
    const exists = entry?.operation === 'PUT';
    const current = exists ? parse(entry.json()) : null;
    const next = change(current);
    if (next === undefined) return current;
    try {
      if (next === null) {
        if (exists) await kv.delete(key, { previousSeq: entry.revision });
      } else if (entry) await kv.update(key, encode(next), entry.revision);
      else await kv.create(key, encode(next));
      return next;
    } catch (error) {
      if (!isCasConflict(error)) throw error;
      await sleep(backoffMs(attempt, 5, 500));
    }
  }
  throw new InfrafedError(ErrorCode.SERVICE_UNAVAILABLE, `${key}: too many concurrent writers; retry`);
}
