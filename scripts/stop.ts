// `npm run stop`: stops what \`npm start\` leaves running between starts: each OpenStack region's Keystone,
// Neutron and nova-api (platforms/openstack/stop.sh stops only the processes its start recorded).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../platforms/processes.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const regions = join(root, '.local', 'system', 'openstack');
const say = (message: string) => process.stdout.write(`[infrafed stop] ${message}\n`);

const names = existsSync(regions) ? readdirSync(regions).filter((name) => existsSync(join(regions, name, 'pids'))) : [];
if (names.length === 0) say('nothing recorded: no local cloud was started here');
for (const name of names) {
  const out = await run('bash', [join(root, 'platforms', 'openstack', 'stop.sh')], {
    ...process.env,
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    STATE_DIR: join(regions, name),
  });
  say(
    `${name}: ${
      out
        .trim()
        .split('\n')
        .map((line) => line.replace(/^\[[0-9:]+\] /, ''))
        .join('; ') || 'stopped'
    }`,
  );
}
