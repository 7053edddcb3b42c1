import { describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { ReplicationError } from '../../controller/durable.ts';
import { openLedger } from '../../controller/ledger.ts';
import { openControllerStore } from '../../controller/store.ts';
import { natsForSuite } from '../harness/natsServer.ts';

/** `controller.replicas` is checked against what the NATS server can hold, at start, with the reason. */
describe('controller.replicas checked at start', () => {
  const nats = natsForSuite();

  it('refuses three copies on a single JetStream server, naming the setting', async () => {
    const opening = openControllerStore(nats.nc, { replicas: 3 });
    await expect(opening).rejects.toBeInstanceOf(ReplicationError);
    await expect(opening).rejects.toThrow(/controller\.replicas is 3.*KV_infrafed_operations.*at least 3 JetStream servers/);
  });

  it('refuses an existing bucket whose copies differ from the setting (the controller may not edit streams)', async () => {
    await openLedger(nats.nc, { replicas: 1 });
    const jsm = await jetstreamManager(nats.nc);
    const info = await jsm.streams.info('KV_infrafed_ledger');
    expect(info.config.num_replicas).toBe(1);
    // an operator raised it to 3 elsewhere: here, a config saying 5 against a bucket of 1
    await expect(openLedger(nats.nc, { replicas: 5 })).rejects.toThrow(
      /KV_infrafed_(entitlements|ledger) has 1 copies, controller\.replicas says 5/,
    );
  });
});
