/**
 * Writes the NATS supercluster of a deployment: per region a cluster of `--servers` servers joined by
 * gateways, a private CA and server certificates, one nkey user per component with its permissions, and
 * per component an env file with its seed (deploy/nats/users/<component>.env; never committed).
 *
 *   node scripts/nats-config.ts [--config deploy/config.example.json] [--out deploy/nats] [--servers 3]
 *
 * Regions and platforms come from the system configuration. Host names are `nats-<region>-<n>` (as in
 * docker-compose.yml); paths in the server configs are as the containers see them (/etc/nats, /data).
 */
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateNats, type NatsServerSpec } from '../deploy/natsConfig.ts';
import { parseConfig, systemConfigSchema } from '../runtime/config.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'deploy/config.example.json' },
    out: { type: 'string', default: 'deploy/nats' },
    servers: { type: 'string', default: '3' },
  },
});
const config = parseConfig(systemConfigSchema, JSON.parse(readFileSync(values.config, 'utf8')), values.config);
const perRegion = Number(values.servers);
if (!Number.isInteger(perRegion) || perRegion < 2) {
  process.stderr.write('--servers: at least 2 per region (a JetStream cluster needs routes)\n');
  process.exit(1);
}
const servers: NatsServerSpec[] = config.regions.flatMap((r) =>
  Array.from({ length: perRegion }, (_, i) => ({
    region: r.name,
    index: i + 1,
    host: `nats-${r.name}-${i + 1}`,
    bind: '0.0.0.0',
    clientPort: 4222,
    clusterPort: 6222,
    gatewayPort: 7222,
    monitorPort: 8222,
    storeDir: '/data',
  })),
);
const out = resolve(values.out);
rmSync(out, { recursive: true, force: true });
const generated = generateNats({
  regions: config.regions.map((r) => ({ name: r.name, platforms: r.platforms.map((p) => p.platform) })),
  servers,
  outDir: out,
  tlsDirInConfig: '/etc/nats/tls',
});
process.stdout.write(
  `wrote ${generated.configs.size} server configs, ${generated.users.size} users (${[...generated.users.keys()].join(', ')}) and the CA to ${out}\n`,
);
