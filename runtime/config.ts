import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { platformSchema } from '../schema/model.ts';
import { regionNameSchema } from '../schema/model.ts';
import { authConfigSchema } from './auth.ts';
import { toProblems } from './problems.ts';

/** A secret: `{ "env": "NAME" }` (read from the environment where it is used) or, locally, a literal. */
export const secretSchema = z.union([z.string().min(1), z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) })]);
export type Secret = z.infer<typeof secretSchema>;

export function resolveSecret(secret: Secret, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof secret === 'string') return secret;
  const value = env[secret.env];
  if (!value) throw new Error(`environment variable ${secret.env} is not set`);
  return value;
}

const keystoneRoleNames = z.array(z.string().min(1)).min(1);
export const keystoneRolesSchema = z
  .object({
    reader: keystoneRoleNames.default(['reader']),
    member: keystoneRoleNames.default(['member']),
    admin: keystoneRoleNames.default(['member', 'manager']),
  })
  .refine((r) => new Set([r.reader, r.member, r.admin].map((set) => [...set].sort().join(','))).size === 3, {
    message: 'reader, member and admin must give different sets of Keystone roles (a member reads back as the strongest set it holds)',
  });
export type KeystoneRoles = z.infer<typeof keystoneRolesSchema>;

export const openstackPlatformConfigSchema = z.object({
  platform: z.literal('openstack'),
  /** Keystone v3 base URL, e.g. http://127.0.0.1:5000/v3 */
  keystoneUrl: z.url(),
  username: z.string().min(1),
  password: secretSchema,
  /** Project the service account scopes its token to (it needs the admin role there). */
  projectName: z.string().min(1).default('admin'),
  userDomainId: z.string().min(1).default('default'),
  projectDomainId: z.string().min(1).default('default'),
  /** Neutron base URL (e.g. http://127.0.0.1:9696); when set, deleting a project first removes its Neutron resources. */
  neutronUrl: z.url().optional(),
  /** Nova base URL with version (e.g. http://127.0.0.1:8774/v2.1); when set, compute quotas are managed. */
  novaUrl: z.url().optional(),
  /** Name or id of the external network routers get their gateway on; default: the only `router:external` network. */
  externalNetwork: z.string().min(1).optional(),
  /**
   * The Keystone roles each infrafed role gives (all of them); checked against Keystone at start. Default:
   * reader → `reader`, member → `member`, admin → `member` + `manager` (Keystone's project manager role,
   * 2023.2 and later). Keystone's `admin` is cloud-wide admin under the legacy policies: it is never given
   * unless named here. The three sets must differ, so that a member's role reads back as one.
   */
  roles: keystoneRolesSchema.default(keystoneRolesSchema.parse({})),
});
export type OpenstackPlatformConfig = z.infer<typeof openstackPlatformConfigSchema>;

export const okdPlatformConfigSchema = z.object({
  platform: z.literal('okd'),
  /** The cluster's API server, e.g. https://api.okd.example:6443 */
  apiUrl: z.url(),
  /** Bearer token of the adapter's service account (it needs to create projects, RoleBindings, NetworkPolicies, ResourceQuotas, Groups). */
  token: secretSchema,
  /**
   * The OpenShift user an organisation's user signs in as, as the cluster's identity providers map them:
   * `{organization}` and `{user}` are filled in; both are required, or two organisations' users of the same
   * name would be one OpenShift user. Default `{organization}:{user}`.
   */
  userNameTemplate: z
    .string()
    .refine((t) => t.includes('{organization}') && t.includes('{user}'), {
      message: 'the template must contain {organization} and {user}: organisations must not share OpenShift users',
    })
    .default('{organization}:{user}'),
});
export type OkdPlatformConfig = z.infer<typeof okdPlatformConfigSchema>;

export const platformConfigSchema = z.discriminatedUnion('platform', [openstackPlatformConfigSchema, okdPlatformConfigSchema]);
export type PlatformConfig = z.infer<typeof platformConfigSchema>;

export const regionConfigSchema = z.object({
  name: regionNameSchema,
  displayName: z.string().min(1),
  platforms: z
    .array(platformConfigSchema)
    .min(1)
    .refine((ps) => new Set(ps.map((p) => p.platform)).size === ps.length, 'a platform is listed twice'),
  /** The region's own NATS cluster (its adapters connect here); absent: `nats.servers`. */
  natsServers: z.array(z.string().min(1)).min(1).optional(),
});
export type RegionConfig = z.infer<typeof regionConfigSchema>;

export const timeoutsSchema = z.object({
  /** Whole GraphQL request at the gateway. */
  gatewayMs: z.number().int().positive().default(10_000),
  /** Subgraph or controller to an adapter, for a read. */
  adapterMs: z.number().int().positive().default(5_000),
  /**
   * Controller to an adapter, for a saga step's change: several vendor calls in a row (a network with its
   * subnet, router, gateway and interface is five or more), each allowed `vendorMs`. Past it the step is
   * REGION_TIMEOUT and the operation is undone, so it must cover a slow vendor's whole step, not one call.
   */
  adapterWriteMs: z.number().int().positive().default(15_000),
  /** Adapter to its vendor API, per call. */
  vendorMs: z.number().int().positive().default(4_000),
  /** How long a mutation waits for its operation before returning it still running. */
  operationWaitMs: z.number().int().min(0).max(30_000).default(8_000),
  /**
   * How long a controller replica's claim on a running operation lasts without renewal; past it, another
   * replica takes the operation over.
   */
  operationLeaseMs: z.number().int().min(1_000).max(600_000).default(30_000),
});

/**
 * What one GraphQL request may ask for at the gateway. The defaults are far above any query of the REST
 * bridge, the CLI or the README (a test proves it) and far below what it takes to make every region fan
 * out hundreds of times: one organisation must not be able to starve the others.
 */
export const graphqlLimitsSchema = z.object({
  /** Nesting of selections. */
  maxDepth: z.number().int().min(1).default(12),
  /** Aliased fields in one document: each alias of `projects` is a fan-out to every region. */
  maxAliases: z.number().int().min(0).default(20),
  /** Lexical tokens in the document. */
  maxTokens: z.number().int().min(100).default(4000),
  /** GraphQL Armor's static cost (objects 2, scalars 1, ×1.5 per level). */
  maxCost: z.number().int().min(100).default(20_000),
  /** Request body, bytes. */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
});
export type GraphqlLimits = z.infer<typeof graphqlLimitsSchema>;

/**
 * Answers the gateway gives again to the same request of the same caller (`gateway/responseCache.ts`): a
 * write through infrafed is seen by the next read at once; what changes outside infrafed (servers made in
 * OpenStack, a region's health, the usage sync) shows within `seconds`.
 */
export const responseCacheSchema = z.object({
  /** 0 turns the cache off. */
  seconds: z.number().int().min(0).max(300).default(5),
  maxEntries: z.number().int().min(1).default(10_000),
  /** Serialised answers, bytes. */
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
});

export const systemConfigSchema = z.object({
  nats: z.object({
    servers: z.array(z.string().min(1)).min(1),
    /** TLS with the deployment's private CA (PEM file); absent: plain (loopback development only). */
    tls: z.object({ caFile: z.string().min(1) }).optional(),
    /** This component's nkey seed (`SU…`): each component has its own user and permissions (deploy/natsConfig.ts). */
    nkeySeed: secretSchema.optional(),
  }),
  auth: authConfigSchema,
  regions: z
    .array(regionConfigSchema)
    .min(1)
    .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'a region is listed twice'),
  timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
  /**
   * Each adapter replica handles at most `maxConcurrent` requests at once toward its vendor API, shared
   * round-robin between organisations: one organisation's flood waits behind itself. Default 8.
   *
   * `projectCacheSeconds`: how long a replica trusts a project's native id and owner once seen, instead
   * of looking the project up by its tag in every request (default 60; 0 turns it off). Both never change
   * while the project lives and a delete through infrafed ends every use of them; only a project deleted
   * on the platform behind infrafed's back may take this long to be noticed.
   */
  adapters: z
    .object({
      maxConcurrent: z.number().int().min(1).max(1000).default(8),
      projectCacheSeconds: z.number().int().min(0).max(3600).default(60),
    })
    .default({ maxConcurrent: 8, projectCacheSeconds: 60 }),
  /**
   * What the controller keeps: finished operations for `operationHistoryDays` (default 30; the sweeper
   * reads only operations still in work), and the audit stream by age and size (default 400 days, 1 GiB;
   * the oldest events go first). Applied when the buckets and the stream are created.
   *
   * `replicas`: the copies JetStream keeps of every bucket and stream of the controller (operations,
   * projects, idempotency keys, entitlements, ledger, audit): 3 on a three-node cluster (the state
   * survives the loss of one node), 1 on a single server (the local default). Checked at start: a count
   * the cluster cannot place stops the controller with the reason; an existing bucket is brought to it.
   */
  controller: z
    .object({
      replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
      /** A failed undo is tried again after this many seconds, twice as long after each failure (at most an hour). */
      undoRetrySeconds: z.number().int().min(1).max(3600).default(60),
      operationHistoryDays: z.number().int().min(1).default(30),
      audit: z
        .object({ maxAgeDays: z.number().int().min(1).default(400), maxBytes: z.number().int().min(1_048_576).default(1_073_741_824) })
        .default({ maxAgeDays: 400, maxBytes: 1_073_741_824 }),
      /** The events stream (`infra.v1.events.>`): kept this long and this large for subscribers to replay. */
      events: z
        .object({ maxAgeDays: z.number().int().min(1).default(30), maxBytes: z.number().int().min(1_048_576).default(268_435_456) })
        .default({ maxAgeDays: 30, maxBytes: 268_435_456 }),
      /**
       * Invitations last `ttlSeconds` unless the inviter asks for another length (default 7 days), at least
       * `minTtlSeconds` (default an hour; a test system lowers it to see expiry happen).
       */
      invitations: z
        .object({
          ttlSeconds: z
            .number()
            .int()
            .min(1)
            .max(30 * 86_400)
            .default(7 * 86_400),
          minTtlSeconds: z.number().int().min(1).default(3600),
        })
        .default({ ttlSeconds: 7 * 86_400, minTtlSeconds: 3600 }),
      /**
       * Webhooks: a failed delivery is tried again after each of `retrySeconds` in turn (default 10 s, 1, 5,
       * 15, 30, 60 and 60 min: almost 3 hours), each attempt limited to `timeoutSeconds`. Targets must be
       * https and public addresses; `allowPrivateTargets` (development and tests only) also lets plain http
       * and loopback or private addresses through.
       */
      webhooks: z
        .object({
          retrySeconds: z.array(z.number().int().min(1).max(86_400)).max(20).default([10, 60, 300, 900, 1800, 3600, 3600]),
          timeoutSeconds: z.number().int().min(1).max(60).default(10),
          allowPrivateTargets: z.boolean().default(false),
        })
        .default({ retrySeconds: [10, 60, 300, 900, 1800, 3600, 3600], timeoutSeconds: 10, allowPrivateTargets: false }),
    })
    .default({
      replicas: 1,
      undoRetrySeconds: 60,
      operationHistoryDays: 30,
      audit: { maxAgeDays: 400, maxBytes: 1_073_741_824 },
      events: { maxAgeDays: 30, maxBytes: 268_435_456 },
      invitations: { ttlSeconds: 7 * 86_400, minTtlSeconds: 3600 },
      webhooks: { retrySeconds: [10, 60, 300, 900, 1800, 3600, 3600], timeoutSeconds: 10, allowPrivateTargets: false },
    }),
  gateway: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(4000),
      limits: graphqlLimitsSchema.default(graphqlLimitsSchema.parse({})),
      responseCache: responseCacheSchema.default(responseCacheSchema.parse({})),
    })
    .default({ host: '127.0.0.1', port: 4000, limits: graphqlLimitsSchema.parse({}), responseCache: responseCacheSchema.parse({}) }),
  /** The REST bridge; `gatewayUrl` defaults to the gateway above (on loopback when it listens on every address). */
  restBridge: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(4100),
      gatewayUrl: z.string().url().optional(),
    })
    .default({ host: '127.0.0.1', port: 4100 }),
});
export type SystemConfig = z.infer<typeof systemConfigSchema>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses a configuration object; every problem is listed, with allowed values where zod knows them. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): Readonly<z.infer<S>> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      source,
      toProblems(result.error, raw).map((p) => `${p.path || '(root)'}: ${p.message}`),
    );
  }
  return Object.freeze(result.data);
}

/** Reads the system configuration named by INFRAFED_CONFIG (a JSON file). */
export function loadSystemConfig(env: NodeJS.ProcessEnv = process.env): Readonly<SystemConfig> {
  const path = env.INFRAFED_CONFIG;
  if (!path) throw new ConfigError('the environment', ['INFRAFED_CONFIG: set it to the path of the system configuration (JSON)']);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(path, [`cannot read it as JSON: ${(error as Error).message}`]);
  }
  return parseConfig(systemConfigSchema, raw, path);
}

/** The regions and platforms as everyone but the adapters needs them (no endpoints, no secrets). */
export function placementsOf(config: Pick<SystemConfig, 'regions'>): { region: string; platform: z.infer<typeof platformSchema> }[] {
  return config.regions.flatMap((r) => r.platforms.map((p) => ({ region: r.name, platform: p.platform })));
}
