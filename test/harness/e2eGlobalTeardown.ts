import { rmSync } from 'node:fs';
import './e2eGlobalSetup.ts';
import { SHARED_SYSTEM_FILE } from './sharedSystem.ts';

/** Jest global teardown of the e2e project: stops the shared local system. */
export default async function teardown(): Promise<void> {
  const running = globalThis.infrafedSharedSystem;
  globalThis.infrafedSharedSystem = undefined;
  if (!running) return;
  running.server.close();
  await running.system.stop();
  rmSync(SHARED_SYSTEM_FILE, { force: true });
}
