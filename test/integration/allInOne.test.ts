import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, NODE_TS_ARGS, spawnManaged } from '../../platforms/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPONENT = join(ROOT, 'test/harness/hostedComponent.ts');

/** `npm start`'s all-in-one host (platforms/allInOne.ts): workers that host one component or several. */
describe('the all-in-one host', () => {
  it('starts several components in one worker, each with its own environment, and stops every one of them on SIGTERM', async () => {
    const [a, b, c] = await Promise.all([freePort(), freePort(), freePort()]);
    const component = (name: string, port: number, env: Record<string, string> = {}) => ({
      name,
      file: COMPONENT,
      env: { HOSTED_NAME: name, INFRAFED_OPS_PORT: String(port), STOP_MS: '300', ...env },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    const groups = [
      // the same file twice in one worker (as the adapters of two regions are)
      [{ name: 'pair', components: [component('first', a, { HOSTED_ONLY: 'first' }), component('second', b, { STOP_MS: '900' })] }],
      [{ name: 'solo', components: [component('third', c)] }],
    ];
    const spec = join(mkdtempSync(join(tmpdir(), 'infrafed-aio-')), 'workers.json');
    writeFileSync(spec, JSON.stringify(groups));
    const lines: string[] = [];
    const host = await spawnManaged({
      name: 'all-in-one',
      command: process.execPath,
      args: [...NODE_TS_ARGS, join(ROOT, 'platforms/allInOne.ts'), spec],
      env: { ...process.env, LOG_LEVEL: 'info' },
      readyWhen: /"msg":"all-in-one ready"/,
      onLine: (l) => lines.push(l),
    });
    const ready = JSON.parse(lines.find((l) => l.includes('all-in-one ready')) as string) as { workers: unknown };
    expect(ready.workers).toEqual({ pair: ['first', 'second'], solo: ['third'] });
    const env = async (port: number) => (await fetch(`http://127.0.0.1:${port}/env`)).json();
    // each saw its own port, and the second did not inherit the first's extra variable
    expect(await env(a)).toEqual({ name: 'first', opsPort: String(a), only: 'first' });
    expect(await env(b)).toEqual({ name: 'second', opsPort: String(b), only: null });
    expect(await env(c)).toEqual({ name: 'third', opsPort: String(c), only: null });

    // 'close': the exit code, and every line of its output read
    const exited = new Promise<number | null>((resolve) => host.child.once('close', (code) => resolve(code)));
    host.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // both components of the shared worker stopped (the first to finish, 600 ms earlier, did not end the worker for the other)
    const stopped = lines.filter((l) => l.includes('"msg":"stopped"')).map((l) => (JSON.parse(l) as { name: string }).name);
    expect({ stopped: stopped.sort(), log: stopped.length === 3 ? [] : lines }).toEqual({ stopped: ['first', 'second', 'third'], log: [] });
  }, 60_000);
});
