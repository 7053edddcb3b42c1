import { nkeys } from '@nats-io/nats-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterContractResource, AdapterContractVerb } from '../schema/contracts/adapter.ts';
import {
  adapterServiceName,
  adapterSubject,
  Bucket,
  CONTROLLER_SERVICE_NAME,
  SUBJECT_ROOT,
  EVENTS_STREAM,
  WEBHOOK_CONSUMER,
  controllerAuditSubject,
  controllerPeopleSubject,
  PeopleVerb,
  SubgraphName,
  subgraphServiceName,
} from '../schema/subjects.ts';
import { READ_GENERATION_KEY } from '../runtime/nats/readGeneration.ts';

/**
 * Generates a NATS supercluster for infrafed: per region one cluster, the clusters joined by gateways,
 * TLS everywhere (a private CA made here with openssl; server certificates valid for both server and
 * client use, so routes and gateways verify each other), and one nkey user per component with the
 * permissions of ../shared/reference/nats.md:
 * - a region's adapter subscribes only to its own region's subjects (and its own `$SRV` discovery and
 *   inbox) and publishes nothing but replies to what it received (`allow_responses`);
 * - subgraphs, the controller and the gateway receive only on their own service subjects and their own
 *   inbox prefix (`_INBOX_<component>`, see runtime/nats/connect.ts).
 */

export interface NatsServerSpec {
  region: string;
  /** 1, 2, … within the region. */
  index: number;
  /** Where clients, routes and gateways reach it (a host name in compose, 127.0.0.1 in tests). */
  host: string;
  /** What it binds (0.0.0.0 in containers). */
  bind: string;
  clientPort: number;
  clusterPort: number;
  gatewayPort: number;
  /** JetStream store directory as the server sees it. */
  storeDir: string;
  /** Monitoring port (0: none). */
  monitorPort?: number;
}

export interface NatsTopology {
  /** Regions with their platforms (one adapter user per region and platform). */
  regions: { name: string; platforms: ('openstack' | 'okd')[] }[];
  servers: NatsServerSpec[];
  /** Where the generated files go. */
  outDir: string;
  /** How paths to TLS files are written into the server configs (e.g. `/etc/nats/tls` in a container); default `<outDir>/tls`. */
  tlsDirInConfig?: string;
}

export interface NatsUser {
  component: string;
  /** `SU…`: the secret the component connects with. */
  seed: string;
  /** `U…`: what the servers know. */
  publicKey: string;
  permissions: {
    publish: { allow: string[]; deny?: string[] };
    subscribe: { allow: string[] };
    allow_responses?: { max: number; expires: string };
  };
}

export interface GeneratedNats {
  users: Map<string, NatsUser>;
  /** Server name → config file path. */
  configs: Map<string, string>;
  caFile: string;
  /** Client URLs per region. */
  urls: Map<string, string[]>;
}

const inbox = (component: string) => `_INBOX_${component}.>`;
const srv = (service: string) => ['$SRV.PING', '$SRV.INFO', '$SRV.STATS', `$SRV.*.${service}`, `$SRV.*.${service}.>`];
const ANSWER = { max: 1, expires: '30s' };

/** A read of the adapter contract: what a subgraph may ask an adapter (it never writes: writes are the controller's). */
interface AdapterRead<R extends AdapterContractResource = AdapterContractResource> {
  resource: R;
  verb: AdapterContractVerb<R>;
}
const read = <R extends AdapterContractResource>(resource: R, verb: AdapterContractVerb<R>): AdapterRead =>
  ({ resource, verb }) as AdapterRead;

/** The adapter requests each subgraph makes: reads only, each checked against the contract table. */
export const subgraphReads: Record<SubgraphName, readonly AdapterRead[]> = {
  identity: [read('project', 'list'), read('member', 'list')],
  network: [read('network', 'list'), read('rule', 'list')],
  quota: [read('quota', 'get')],
  catalog: [read('health', 'check')],
};

/** The JetStream API the controller may not call: deleting or purging a stream or bucket (the audit log above all) is an operator's. */
const JS_DESTRUCTIVE = ['$JS.API.STREAM.DELETE.>', '$JS.API.STREAM.PURGE.>', '$JS.API.STREAM.UPDATE.>', '$JS.API.STREAM.MSG.DELETE.>'];

/**
 * The components of a deployment and exactly what each may do on NATS:
 * - an adapter subscribes to its own region's subjects and answers what it received, nothing else;
 * - a subgraph publishes only the adapter reads it makes (every region) and the controller's subjects;
 * - the controller publishes every adapter verb (it alone writes), the audit and events streams (it
 *   alone writes audit and events), its KV buckets and the JetStream API, less deleting, purging or
 *   changing streams;
 * - the gateway publishes only to the subgraphs, `$SRV` (readiness), the controller's sign-in (an
 *   identity provider's token exchanged for a session) and read audit (answers its cache gives again),
 *   gets and puts the one key of the read generation, and hears operations' progress (subscriptions).
 */
export function componentPermissions(regions: NatsTopology['regions']): Map<string, NatsUser['permissions']> {
  const out = new Map<string, NatsUser['permissions']>();
  const placements = regions.flatMap((r) => r.platforms.map((platform) => ({ region: r.name, platform })));
  const everyVerb = placements.map((p) => `${SUBJECT_ROOT}.${p.region}.${p.platform}.>`);
  for (const { region, platform } of placements) {
    out.set(`adapter-${region}-${platform}`, {
      publish: { allow: [] },
      subscribe: {
        allow: [
          `${SUBJECT_ROOT}.${region}.${platform}.>`,
          `${SUBJECT_ROOT}.all.>`,
          ...srv(adapterServiceName(platform)),
          inbox(`adapter-${region}-${platform}`),
        ],
      },
      allow_responses: ANSWER,
    });
  }
  out.set('controller', {
    publish: {
      allow: [
        ...everyVerb,
        `${SUBJECT_ROOT}.audit.>`,
        `${SUBJECT_ROOT}.events.>`,
        // live progress of operations (core NATS)
        `${SUBJECT_ROOT}.progress.>`,
        ...Object.values(Bucket).map((b) => `$KV.${b}.>`),
        '$JS.API.>',
        // acknowledgements of the events consumer that feeds webhooks
        `$JS.ACK.${EVENTS_STREAM}.${WEBHOOK_CONSUMER}.>`,
      ],
      deny: JS_DESTRUCTIVE,
    },
    subscribe: { allow: [`${SUBJECT_ROOT}.controller.>`, ...srv(CONTROLLER_SERVICE_NAME), inbox('controller')] },
    allow_responses: ANSWER,
  });
  for (const name of Object.values(SubgraphName)) {
    const reads = placements.flatMap((p) => subgraphReads[name].map((r) => adapterSubject(p.region, p.platform, r.resource, r.verb)));
    out.set(`subgraph-${name}`, {
      publish: {
        allow: [
          ...reads,
          `${SUBJECT_ROOT}.controller.>`,
          // the catalog counts adapter replicas with $SRV.PING
          ...(name === 'catalog' ? ['$SRV.PING.>', '$SRV.PING'] : []),
        ],
      },
      subscribe: { allow: [`${SUBJECT_ROOT}.subgraph.${name}.>`, ...srv(subgraphServiceName(name)), inbox(`subgraph-${name}`)] },
      allow_responses: ANSWER,
    });
  }
  out.set('gateway', {
    publish: {
      allow: [
        `${SUBJECT_ROOT}.subgraph.>`,
        '$SRV.>',
        controllerPeopleSubject(PeopleVerb.session),
        // the response cache: each answer it gives again is audited as the reads it was made of (in
        // batches; the controller records each in the name of its own caller's token), and it reads and
        // moves on the read generation (one key, from the stream's leader)
        controllerAuditSubject('reads'),
        `$JS.API.STREAM.MSG.GET.KV_${Bucket.readGeneration}`,
        `$KV.${Bucket.readGeneration}.${READ_GENERATION_KEY}`,
      ],
    },
    // live progress of operations for subscriptions (the gateway subscribes only to its caller's organisation)
    subscribe: { allow: [inbox('gateway'), `${SUBJECT_ROOT}.progress.>`] },
  });
  return out;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A private CA and one certificate per server (server and client use: routes and gateways verify each other). */
function makeTls(dir: string, servers: NatsServerSpec[]): void {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '825', '-subj', '/CN=infrafed NATS CA'], dir);
  for (const s of servers) {
    const name = `${s.region}-${s.index}`;
    const hosts = new Set([s.host, `nats-${name}`, 'localhost']);
    const sans = [...hosts].map((h) => (/^[\d.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`));
    if (!sans.includes('IP:127.0.0.1')) sans.push('IP:127.0.0.1');
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyAgreement\n`,
    );
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '825',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
}

const quote = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(quote).join(', ')}]`;

function serverConfig(s: NatsServerSpec, all: NatsServerSpec[], users: NatsUser[], tlsDir: string): string {
  const name = `${s.region}-${s.index}`;
  const tls = (verify: boolean) =>
    [
      'tls {',
      `    cert_file: ${quote(`${tlsDir}/${name}.pem`)}`,
      `    key_file: ${quote(`${tlsDir}/${name}.key`)}`,
      `    ca_file: ${quote(`${tlsDir}/ca.pem`)}`,
      `    verify: ${verify}`,
      '    timeout: 5',
      '  }',
    ].join('\n');
  const routes = all.filter((o) => o.region === s.region && o !== s).map((o) => `nats-route://${o.host}:${o.clusterPort}`);
  const regions = [...new Set(all.map((o) => o.region))];
  const gateways = regions.map(
    (r) => `    { name: ${quote(r)}, urls: ${list(all.filter((o) => o.region === r).map((o) => `nats://${o.host}:${o.gatewayPort}`))} }`,
  );
  const userBlocks = users.map((u) => {
    const p = u.permissions;
    const responses = p.allow_responses
      ? `\n        allow_responses: { max: ${p.allow_responses.max}, expires: ${quote(p.allow_responses.expires)} }`
      : '';
    // an empty allow list would allow everything: deny all instead
    const deny = p.publish.deny?.length ? `, deny: ${list(p.publish.deny)}` : '';
    const publish = p.publish.allow.length > 0 ? `publish: { allow: ${list(p.publish.allow)}${deny} }` : `publish: { deny: [">"] }`;
    return [
      `    # ${u.component}`,
      `    { nkey: ${quote(u.publicKey)}, permissions: {`,
      `        ${publish}`,
      `        subscribe: { allow: ${list(p.subscribe.allow)} }${responses}`,
      '      } }',
    ].join('\n');
  });
  return `# generated by deploy/natsConfig.ts: NATS server ${name} of region ${s.region}
server_name: ${quote(name)}
listen: ${quote(`${s.bind}:${s.clientPort}`)}
${s.monitorPort ? `http: ${quote(`${s.bind}:${s.monitorPort}`)}\n` : ''}
${tls(false)}

jetstream {
  store_dir: ${quote(s.storeDir)}
}

cluster {
  name: ${quote(s.region)}
  listen: ${quote(`${s.bind}:${s.clusterPort}`)}
  routes: ${list(routes)}
  ${tls(true)}
}

gateway {
  name: ${quote(s.region)}
  listen: ${quote(`${s.bind}:${s.gatewayPort}`)}
  ${tls(true)}
  gateways: [
${gateways.join(',\n')}
  ]
}

authorization {
  users: [
${userBlocks.join(',\n')}
  ]
}
`;
}

/** Writes the CA and certificates, a config per server and a seed (and `.env`) per component. */
export function generateNats(topology: NatsTopology): GeneratedNats {
  const { outDir } = topology;
  const tlsDir = join(outDir, 'tls');
  makeTls(tlsDir, topology.servers);
  mkdirSync(join(outDir, 'servers'), { recursive: true });
  mkdirSync(join(outDir, 'users'), { recursive: true, mode: 0o700 });

  const users = new Map<string, NatsUser>();
  for (const [component, permissions] of componentPermissions(topology.regions)) {
    const kp = nkeys.createUser();
    const user: NatsUser = { component, seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey(), permissions };
    users.set(component, user);
    writeFileSync(join(outDir, 'users', `${component}.seed`), `${user.seed}\n`, { mode: 0o600 });
    writeFileSync(join(outDir, 'users', `${component}.env`), `INFRAFED_NATS_SEED=${user.seed}\n`, { mode: 0o600 });
  }
  const configs = new Map<string, string>();
  for (const s of topology.servers) {
    const file = join(outDir, 'servers', `${s.region}-${s.index}.conf`);
    writeFileSync(file, serverConfig(s, topology.servers, [...users.values()], topology.tlsDirInConfig ?? tlsDir));
    configs.set(`${s.region}-${s.index}`, file);
  }
  const urls = new Map<string, string[]>();
  for (const s of topology.servers) urls.set(s.region, [...(urls.get(s.region) ?? []), `tls://${s.host}:${s.clientPort}`]);
  return { users, configs, caFile: join(tlsDir, 'ca.pem'), urls };
}
