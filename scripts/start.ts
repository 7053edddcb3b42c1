// `npm start`: the whole system on this machine, on its local defaults. Ctrl-C stops infrafed; the local
// clouds (Keystone, Neutron and nova-api of each OpenStack region) keep running for the next start, which
// reuses them (about 6 s instead of 22); `npm run stop` stops them too, and INFRAFED_KEEP_CLOUDS=0 stops
// them with infrafed.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalSystem } from '../platforms/localSystem.ts';
import { ensureInstalled } from '../platforms/ensureInstalled.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const say = (message: string) => process.stdout.write(`[infrafed ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);

try {
  await ensureInstalled(say);
} catch (error) {
  say((error as Error).message);
  process.exit(1);
}

// one process for every component by default; `npm start -- --distributed` (or INFRAFED_DISTRIBUTED=1) runs each in its own
const distributed = process.argv.includes('--distributed') || process.env.INFRAFED_DISTRIBUTED === '1';
// the local clouds outlive infrafed for the next start unless asked otherwise
const keepClouds = process.env.INFRAFED_KEEP_CLOUDS !== '0';
const system = await startLocalSystem({
  allInOne: !distributed,
  stateDir: join(root, '.local', 'system'),
  keepOpenstack: keepClouds,
  natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  gatewayPort: Number(process.env.GATEWAY_PORT ?? 4000),
  restPort: Number(process.env.REST_PORT ?? 4100),
  onProgress: say,
  onLine: process.env.INFRAFED_VERBOSE ? (name, line) => process.stdout.write(`${name} | ${line}\n`) : undefined,
}).catch((error: unknown) => {
  say(`failed to start: ${(error as Error).message}`);
  process.exit(1);
});

const token = await system.token('demo', 'owner', 'demo-owner');
say('ready');
process.stdout.write(`
  GraphQL:  ${system.gatewayUrl}
  REST:     ${system.restUrl}  (OpenAPI ${system.restUrl}/openapi.json, docs ${system.restUrl}/docs)
  NATS:     ${system.natsUrl}
  Regions:  ${system.config.regions
    .map(
      (r) =>
        `${r.name} (${r.platforms.map((p) => (p.platform === 'okd' ? `OKD API emulator ${p.apiUrl}` : `OpenStack, Keystone ${p.keystoneUrl}`)).join('; ')})`,
    )
    .join(', ')}
  Config:   ${system.configPath}
  Mode:     ${distributed ? 'distributed (a process per component)' : 'all-in-one (every component in one process, over NATS; --distributed for a process each)'}

  Bearer token for organisation "demo" (role owner, valid 12 h):
  ${token}

  Try:
  curl -s ${system.gatewayUrl} -H "authorization: Bearer ${token}" -H 'content-type: application/json' \\
    -d '{"query":"{ regions { name platforms { platform status } } }"}'
  curl -s ${system.restUrl}/regions -H "authorization: Bearer ${token}"
  (more tokens: INFRAFED_CONFIG=${system.configPath} node scripts/token.ts <org> <role>)

  ${
    keepClouds
      ? 'Ctrl-C stops infrafed; Keystone, Neutron and nova-api keep running for the next start (`npm run stop` stops them).'
      : 'Ctrl-C stops everything.'
  }
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  await system.stop();
  say(
    keepClouds
      ? 'stopped; the local clouds (Keystone, Neutron and nova-api) keep running for the next start: `npm run stop` stops them'
      : 'stopped',
  );
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
