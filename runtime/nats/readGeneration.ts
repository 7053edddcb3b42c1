import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Bucket } from '../../schema/subjects.ts';

/** The one key of the bucket: its revision is the generation. */
export const READ_GENERATION_KEY = 'generation';

/**
 * What a cached read's freshness is measured against: the revision of one JetStream KV key
 * (`Bucket.readGeneration`) that every write through infrafed moves on before its answer is given (a
 * gateway after each mutation, the controller when an operation ends). A read remembers the generation it
 * began in; once the generation has moved, its answer is stale. Reads ask the stream's leader (the bucket
 * is made with `allow_direct` off), so a write that has been answered is seen by the next read of every
 * replica of every component.
 */
export interface ReadGeneration {
  /** The generation now (0 before the first write), or null when JetStream did not answer in time. */
  current(): Promise<number | null>;
  /** Moves the generation on (rejects when JetStream does not take it). */
  bump(): Promise<void>;
}

/**
 * The key made when it is not there yet (the controller, at its start): a read of a key that was never
 * written is a 404 from JetStream, which costs each reader an error built and thrown.
 */
export async function withReadGenerationKey(kv: KV): Promise<KV> {
  try {
    await kv.create(READ_GENERATION_KEY, '');
  } catch (error) {
    // another replica made it meanwhile (or an earlier start did): anything else is a real failure
    if (!(await kv.get(READ_GENERATION_KEY))) throw error;
  }
  return kv;
}

/**
 * One read of the generation shared by every caller that asked while no read of it was on its way: a
 * caller that asks while a read is already out waits for the next one, sent once that read is answered,
 * because the read already out may have been answered by JetStream before this caller's request came in
 * (a write answered just before would then be missed). So each caller's generation was read after it
 * asked, and at most two reads are out or waiting at any time, however many requests come in.
 */
export function coalescedReads(read: () => Promise<number | null>): () => Promise<number | null> {
  let out: Promise<number | null> | undefined;
  let next: Promise<number | null> | undefined;
  const send = (): Promise<number | null> => {
    const sent = read().finally(() => {
      if (out === sent) out = undefined;
    });
    out = sent;
    return sent;
  };
  const sendNext = () => {
    next = undefined;
    return send();
  };
  return () => {
    if (!out) return send();
    // after the read already out, answered or failed
    next ??= out.then(sendNext, sendNext);
    return next;
  };
}

/** Over a bucket already opened (the controller makes it with its replica count, `controller/main.ts`). */
export function readGenerationOf(kv: KV): ReadGeneration {
  return {
    async current() {
      try {
        return (await kv.get(READ_GENERATION_KEY))?.revision ?? 0;
      } catch {
        return null;
      }
    },
    async bump() {
      await kv.put(READ_GENERATION_KEY, '');
    },
  };
}

/**
 * Over the bucket the controller made, bound without asking JetStream for its configuration (the gateway's
 * NATS user may only get the key and put it): `timeoutMs` bounds each call. Before the bucket exists,
 * `current()` is null (nothing is cached) and `bump()` rejects; after a `current()` that JetStream did not
 * answer, the next second's are null at once.
 */
export function bindReadGeneration(nc: NatsConnection, timeoutMs: number): ReadGeneration {
  let kv: Promise<KV> | undefined;
  const bucket = () =>
    (kv ??= new Kvm(jetstream(nc, { timeout: timeoutMs, checkAPI: false }))
      .open(Bucket.readGeneration, { allow_direct: false })
      .catch((error: unknown) => {
        kv = undefined;
        throw error;
      }));
  // after JetStream failed to answer, reads do not wait for it again for a second
  let quietUntil = 0;
  const read = coalescedReads(async () => {
    let generation: number | null = null;
    try {
      generation = await readGenerationOf(await bucket()).current();
    } catch {
      // the bucket is not there (yet)
    }
    if (generation === null) quietUntil = performance.now() + 1_000;
    return generation;
  });
  return {
    async current() {
      if (performance.now() < quietUntil) return null;
      return read();
    },
    async bump() {
      await readGenerationOf(await bucket()).bump();
    },
  };
}
