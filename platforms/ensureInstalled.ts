import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from './processes.ts';

const INSTALL = fileURLToPath(new URL('./install.sh', import.meta.url));

/** Where Debian puts nats-server (/usr/sbin is not on every user's PATH). */
export function natsServerBinary(): string {
  return ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
}

function missing(): string[] {
  const out: string[] = [];
  if (natsServerBinary() === 'nats-server') out.push('nats-server');
  if (!existsSync('/usr/bin/keystone-manage') || !existsSync('/usr/bin/uwsgi')) out.push('keystone');
  return out;
}

/**
 * Installs the Debian packages the local system needs (nats-server, Keystone) when they are missing:
 * `npm start` and `npm test` need no other set-up step. Installing needs root.
 */
export async function ensureInstalled(say: (message: string) => void): Promise<void> {
  const lacking = missing();
  if (lacking.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${lacking.join(' and ')} not installed, and installing needs root: run \`sudo bash platforms/install.sh\` once`);
  }
  say(`installing ${lacking.join(' and ')} from Debian packages (once; about a minute)…`);
  const started = Date.now();
  await run('bash', [INSTALL]);
  say(`installed (${Math.round((Date.now() - started) / 1000)} s)`);
}
