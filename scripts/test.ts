// `npm test`: the unit, integration and end-to-end jest projects, one file at a time (2-core machines;
// the local Keystones serialise requests anyway). Extra arguments go to jest; `--selectProjects resilience`
// (`npm run test:resilience`) runs the failure tests on a system of their own.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureInstalled } from '../platforms/ensureInstalled.ts';

const say = (message: string) => process.stdout.write(`[infrafed test] ${message}\n`);
try {
  await ensureInstalled(say);
} catch (error) {
  say((error as Error).message);
  process.exit(1);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const jest = fileURLToPath(new URL('../node_modules/jest/bin/jest.js', import.meta.url));
const result = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--no-warnings=ExperimentalWarning',
    jest,
    '--runInBand',
    // the caller's arguments first: a file pattern after `--selectProjects a b` would be read as a project
    ...process.argv.slice(2),
    // the failure tests (`npm run test:resilience`) run only when asked for
    ...(process.argv.includes('--selectProjects') ? [] : ['--selectProjects', 'unit', 'integration', 'e2e']),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, APOLLO_TELEMETRY_DISABLED: 'true', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  },
);
process.exit(result.status ?? 1);
