// One worker of the all-in-one process (platforms/allInOne.ts): one component, or several that share its
// modules (the four subgraphs; the adapters), each with its own environment, NATS connection and ops port,
// exactly as its own process would have them.
import { parentPort, workerData } from 'node:worker_threads';

interface Hosted {
  name: string;
  file: string;
  env: Record<string, string>;
}

// a worker gets no signals: the host asks it to stop, and the components' SIGTERM handling (runMain) stops
// every one of them, then ends the worker
parentPort?.on('message', (message) => {
  if (message === 'stop') process.emit('SIGTERM' as never);
});

// one after another: a component reads its environment while it starts (its module's top-level await
// ends when it is ready), so each starts with its own; a file hosted twice (an adapter per region) is
// loaded once per component (the query makes it a module of its own; what it imports is shared)
const base = { ...process.env };
for (const c of (workerData as { components: Hosted[] }).components) {
  for (const key of Object.keys(process.env)) if (!(key in base)) delete process.env[key];
  Object.assign(process.env, base, c.env);
  await import(`${c.file}?component=${encodeURIComponent(c.name)}`);
}
