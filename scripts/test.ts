// `npm test`: the unit, integration and end-to-end jest projects. Each jest runs one file at a time
// (`--runInBand`: 2-core machines, and the local Keystones serialise requests anyway), but with no
// arguments two of them run side by side: the unit and integration suites (each starts what it needs),
// and the e2e suites (one shared system, started by their global setup). They share nothing but the
// machine, and neither waits on the other: about 4.5 minutes here instead of 6 one after another.
// Extra arguments go to a single jest, as before; `--selectProjects resilience` (`npm run test:resilience`)
// runs the failure tests on a system of their own.
import { spawn, spawnSync } from 'node:child_process';
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
const env = { ...process.env, APOLLO_TELEMETRY_DISABLED: 'true', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
const jestArgs = (args: readonly string[]) => [
  '--experimental-vm-modules',
  '--no-warnings=ExperimentalWarning',
  jest,
  '--runInBand',
  ...args,
];

const args = process.argv.slice(2);
if (args.length > 0) {
  // the caller's arguments first: a file pattern after `--selectProjects a b` would be read as a project;
  // the failure tests (`npm run test:resilience`) run only when asked for
  const selection = args.includes('--selectProjects') ? [] : ['--selectProjects', 'unit', 'integration', 'e2e'];
  const result = spawnSync(process.execPath, jestArgs([...args, ...selection]), { cwd: root, stdio: 'inherit', env });
  process.exit(result.status ?? 1);
}

/** One jest, its output line by line under a prefix (the two interleave); resolves with its exit code. */
function runJest(name: string, projects: readonly string[]): Promise<{ name: string; code: number; seconds: number }> {
  const started = Date.now();
  // jest colours only a terminal's output; keep the colours when ours is one
  const child = spawn(process.execPath, jestArgs(['--selectProjects', ...projects]), {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.stdout.isTTY ? { ...env, FORCE_COLOR: '1' } : env,
  });
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
    });
    stream.on('end', () => rest && process.stdout.write(`${prefix}${rest}\n`));
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) =>
    child.on('close', (code, signal) =>
      resolve({ name, code: code ?? (signal ? 1 : 0), seconds: Math.round((Date.now() - started) / 1000) }),
    ),
  );
}

say('two jest runs side by side: [unit+integration] and [e2e] (their lines are prefixed)');
const results = await Promise.all([runJest('unit+integration', ['unit', 'integration']), runJest('e2e', ['e2e'])]);
for (const r of results) say(`${r.name}: ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code})`} in ${r.seconds} s`);
process.exit(results.find((r) => r.code !== 0)?.code ?? 0);
