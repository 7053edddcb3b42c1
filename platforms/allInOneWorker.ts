// One component of the all-in-one process (platforms/allInOne.ts), in its own worker thread: its own
// modules, environment and NATS connection, exactly as its own process would have them.
import { parentPort, workerData } from 'node:worker_threads';

// a worker gets no signals: the host asks it to stop, and the component's own SIGTERM handler (runMain) stops it
parentPort?.on('message', (message) => {
  if (message === 'stop') process.emit('SIGTERM' as never);
});
await import((workerData as { file: string }).file);
