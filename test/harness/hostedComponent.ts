// A stand-in deployable for the all-in-one host's test (test/integration/allInOne.test.ts): started by
// runMain like every component, it serves /readyz and /env on INFRAFED_OPS_PORT (what it saw of its
// environment when it started) and takes STOP_MS to stop.
import { createServer } from 'node:http';
import { runMain } from '../../runtime/lifecycle.ts';
import { createLogger } from '../../runtime/log.ts';

const name = process.env.HOSTED_NAME ?? 'unnamed';
const log = createLogger(name);
await runMain(log, async () => {
  const seen = { name, opsPort: process.env.INFRAFED_OPS_PORT, only: process.env.HOSTED_ONLY ?? null };
  const server = createServer((req, res) => {
    if (req.url === '/readyz') res.writeHead(200).end('{"status":"ready"}');
    else if (req.url === '/env') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(Number(seen.opsPort), '127.0.0.1', resolve));
  log.info(`${name} ready`);
  return async () => {
    await new Promise((r) => setTimeout(r, Number(process.env.STOP_MS ?? 0)));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
});
