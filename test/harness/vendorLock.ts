import { afterAll, beforeAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../../platforms/processes.ts';

/**
 * One lock per clone, across processes: `npm test` runs two jests side by side (scripts/test.ts), and the
 * suites that make Neutron build routers (a router's interface is 1-1.5 s of Neutron's CPU here) take
 * turns, so that two of them never load one 2-core machine's Neutrons at once. Such a suite calls
 * `takeVendorTurns` at its top level (test/harness/sequencer.mjs orders such suites by that call).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOCK = join(tmpdir(), `infrafed-vendor-lock-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);

const STALE_MS = 15 * 60_000;

/**
 * Holds the lock from before the file's own `beforeAll` hooks (it starts its vendors or uses the shared
 * system's) until after its `afterAll` hooks: call it at the file's top level, outside `describe`.
 */
export function takeVendorTurns(suite: string): void {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await holdVendorLock(suite);
  }, 900_000);
  afterAll(() => release?.());
}

/** Waits for the lock (a directory: made by one process at a time), then holds it; resolves with its release. */
async function holdVendorLock(suite: string): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'owner'), `${process.pid} ${suite}`);
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // a holder that died (a killed jest) left the lock, or one older than any suite (its pid since reused):
    // taken over; one still writing its owner file is waited for
    let owner = 0;
    let since = Date.now();
    try {
      owner = Number.parseInt(readFileSync(join(LOCK, 'owner'), 'utf8'), 10);
      since = statSync(LOCK).mtimeMs;
    } catch {
      // not written yet, or released meanwhile
    }
    if ((owner > 0 && !isAlive(owner)) || Date.now() - since > STALE_MS) rmSync(LOCK, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, 250));
  }
}
