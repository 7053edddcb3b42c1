// `npm run stop`: stops what \`npm start\` leaves running between starts: each OpenStack region's Keystone,
// Neutron and nova-api (platforms/openstack/stop.sh stops only the processes its start recorded).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopKeptOpenstack } from '../platforms/localSystem.ts';

const say = (message: string) => process.stdout.write(`[infrafed stop] ${message}\n`);
// the state directory `npm start` uses (scripts/start.ts)
const stopped = await stopKeptOpenstack(join(fileURLToPath(new URL('..', import.meta.url)), '.local', 'system'));
if (stopped.length === 0) say('nothing recorded: no local cloud was started here');
for (const { region, report } of stopped) {
  const lines = report
    .trim()
    .split('\n')
    .map((line) => line.replace(/^\[[0-9:]+\] /, ''));
  say(`${region}: ${lines.join('; ') || 'stopped'}`);
}
