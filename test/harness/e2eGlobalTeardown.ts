import { rmSync } from 'node:fs';
import './e2eGlobalSetup.ts';
import { SHARED_CONTROL_FILE } from './sharedSystem.ts';

/** Jest global teardown of the e2e project: stops the shared local system (waiting for its start to end first). */
export default async function teardown(): Promise<void> {
  const running = globalThis.infrafedSharedSystem;
  globalThis.infrafedSharedSystem = undefined;
  if (!running) return;
  running.server.close();
  const system = await running.starting;
  await system?.stop();
  rmSync(SHARED_CONTROL_FILE, { force: true });
}
