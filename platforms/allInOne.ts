// The all-in-one mode of the local system (`npm start`'s default): one Node process hosts every infrafed
// component in worker threads, each component with its own environment, NATS user and connection and ops
// port. They still talk over NATS exactly as separate processes do; only the process is shared. A worker
// hosts one component, or several of one kind that share its modules (the subgraphs; the adapters): each
// worker is an isolate of its own, about 20 MiB even when idle.
// Usage: node platforms/allInOne.ts <workers.json>: groups, in start order, of { name, components: [{ name, file, env, readyUrl }] }.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

interface Component {
  name: string;
  file: string;
  env: Record<string, string>;
  /** Where its /readyz answers. */
  readyUrl: string;
}
interface HostedWorker {
  name: string;
  components: Component[];
}

const groups = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as HostedWorker[][];
const WORKER = new URL('./allInOneWorker.ts', import.meta.url);
const say = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), name: 'all-in-one', msg, ...extra })}\n`);

const workers = new Map<string, Worker>();
let stopping = false;

async function ready(c: Component, worker: Worker, exited: () => number | null): Promise<void> {
  for (;;) {
    if (exited() !== null) throw new Error(`${c.name} stopped while starting (exit ${exited()})`);
    try {
      const res = await fetch(c.readyUrl, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopAll(): Promise<void> {
  // the faces first, the adapters last: the reverse of the start order
  for (const group of [...groups].reverse()) {
    await Promise.all(
      group.map(async (w) => {
        const worker = workers.get(w.name);
        if (!worker) return;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage('stop');
        const timer = setTimeout(() => void worker.terminate(), 12_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

const started = Date.now();
try {
  for (const group of groups) {
    await Promise.all(
      group.map(async (w) => {
        const worker = new Worker(WORKER, {
          env: { ...process.env },
          workerData: { components: w.components.map(({ name, file, env }) => ({ name, file, env })) },
          name: w.name,
          // a small young generation per worker: idle components then hold little (measured: npm run bench, README)
          resourceLimits: { maxYoungGenerationSizeMb: 4 },
        });
        workers.set(w.name, worker);
        let exitCode: number | null = null;
        worker.on('error', (error) => say(`${w.name} failed`, { level: 50, err: { message: error.message, stack: error.stack } }));
        worker.on('exit', (code) => {
          exitCode = code;
          if (!stopping) {
            say(`${w.name} stopped on its own (exit ${code}); stopping everything`, { level: 50 });
            void shutdown(1);
          }
        });
        for (const c of w.components) await ready(c, worker, () => exitCode);
      }),
    );
  }
  say('all-in-one ready', {
    workers: Object.fromEntries(groups.flat().map((w) => [w.name, w.components.map((c) => c.name)])),
    ms: Date.now() - started,
  });
} catch (error) {
  say('failed to start', { level: 60, err: { message: (error as Error).message } });
  await shutdown(1);
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stopAll();
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
