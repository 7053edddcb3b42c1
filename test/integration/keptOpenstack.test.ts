import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningOpenstack } from '../../platforms/localSystem.ts';

/**
 * `npm start` reuses a region's Keystone, Neutron and nova-api that its last start left running only when
 * every recorded process is alive and every service answers on its recorded port; anything less, and the
 * region is started afresh. Loopback HTTP servers stand in for the three services here.
 */
describe('reusing the local clouds an earlier `npm start` left running', () => {
  const servers: Server[] = [];
  const status = { keystone: 200, neutron: 200, nova: 200 };
  let ports: { keystone: number; neutron: number; nova: number };
  let dir: string;
  const record = (pids: number[], what = ports) => {
    writeFileSync(join(dir, 'ports.json'), JSON.stringify(what));
    writeFileSync(join(dir, 'pids'), pids.map((pid, i) => `${['keystone', 'neutron', 'nova'][i] ?? 'x'} ${pid}\n`).join(''));
  };

  beforeAll(async () => {
    const serve = async (name: keyof typeof status) => {
      const server = createServer((_req, res) => res.writeHead(status[name]).end('{}'));
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as { port: number }).port;
    };
    ports = { keystone: await serve('keystone'), neutron: await serve('neutron'), nova: await serve('nova') };
    dir = mkdtempSync(join(tmpdir(), 'infrafed-kept-'));
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reuses them when every recorded process lives and every service answers 200 on its port', async () => {
    record([process.pid, process.pid, process.pid]);
    expect(await runningOpenstack(dir)).toEqual(ports);
  });

  it('starts afresh when a recorded process has died', async () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
    record([process.pid, gone, process.pid]);
    expect(await runningOpenstack(dir)).toBeUndefined();
  });

  it('starts afresh when a service answers otherwise, or nothing listens on its port', async () => {
    record([process.pid, process.pid, process.pid]);
    status.nova = 503;
    expect(await runningOpenstack(dir)).toBeUndefined();
    status.nova = 200;
    const closed = servers[1] as Server;
    const free = ports.neutron;
    await new Promise((r) => closed.close(r));
    record([process.pid, process.pid, process.pid], { ...ports, neutron: free });
    expect(await runningOpenstack(dir)).toBeUndefined();
  });

  it('starts afresh when nothing was recorded, or stop.sh emptied the record', async () => {
    expect(await runningOpenstack(join(dir, 'nowhere'))).toBeUndefined();
    record([]);
    expect(await runningOpenstack(dir)).toBeUndefined();
  });
});
