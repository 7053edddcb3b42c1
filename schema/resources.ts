import { z } from 'zod';
import {
  accessRuleInput,
  cidrSchema,
  createNetworkInput,
  directionSchema,
  ipAddressSchema,
  networkNameSchema,
  portSchema,
  protocolSchema,
} from './network.ts';
import {
  descriptionSchema,
  groupNameSchema,
  placementSchema,
  projectNameSchema,
  projectRoleSchema,
  regionNameSchema,
  userNameSchema,
} from './model.ts';
import { limitSchema, quotaResources, type QuotaResource } from './quota.ts';

/**
 * The file format of customer resources as code (`infrafed export`, `plan`, `apply`): YAML (or JSON), one
 * document per project of the caller's organisation. Projects are named, never numbered: the name is
 * unique within the organisation, so the same file applies to any copy of the system.
 */
export const RESOURCES_API_VERSION = 'infrafed.io/v1';

export const resourceQuotaLimits = z
  .object(
    Object.fromEntries(quotaResources.map((r) => [r, limitSchema.optional()])) as Record<QuotaResource, z.ZodOptional<typeof limitSchema>>,
  )
  .strict();

export const resourceMember = z
  .object({
    /** A user of the organisation (exactly one of `user` and `group`). */
    user: userNameSchema.optional(),
    /** A group of the organisation's identity provider. */
    group: groupNameSchema.optional(),
    role: projectRoleSchema,
  })
  .strict()
  .superRefine((m, ctx) => {
    const given = [m.user, m.group].filter((v) => v !== undefined).length;
    if (given !== 1)
      ctx.addIssue({ code: 'custom', path: [], message: given === 0 ? 'give a user or a group' : 'give a user or a group, not both' });
  });
export type ResourceMember = z.infer<typeof resourceMember>;

/**
 * The rules across fields of an operation's input (createNetwork, applyAccessRule) reported where they
 * apply, leaving out fields whose own schema already reported them (one problem per mistake).
 */
function addCrossFieldIssues(
  fields: Record<string, z.ZodType>,
  value: Record<string, unknown>,
  issues: readonly z.core.$ZodIssue[],
  ctx: z.RefinementCtx,
): void {
  for (const issue of issues) {
    const field = fields[String(issue.path[0])];
    if (field && !field.safeParse(value[String(issue.path[0])]).success) continue;
    ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message: issue.message });
  }
}

const networkFields = {
  name: networkNameSchema,
  region: regionNameSchema,
  cidr: cidrSchema,
  gatewayIp: ipAddressSchema.optional(),
  dnsNameservers: z.array(ipAddressSchema).max(5, 'at most 5 DNS name servers').optional(),
  router: z.object({ external: z.boolean().optional() }).strict().optional(),
};

/** A network (one subnet, optionally a router) in one region's OpenStack placement. Networks are not changed in place: a changed one is replaced. */
export const resourceNetwork = z
  .object(networkFields)
  .strict()
  .superRefine((n, ctx) => {
    // the rules across fields, as createNetwork checks them (the gateway inside the block)
    const checked = createNetworkInput.safeParse({ ...n, projectId: 'prj_00000000000000000000000000' });
    if (!checked.success) addCrossFieldIssues(networkFields, n, checked.error.issues, ctx);
  });
export type ResourceNetwork = z.infer<typeof resourceNetwork>;

/** An access rule, applied in every placement of the project; identified by what it allows. */
const ruleFields = {
  direction: directionSchema,
  protocol: protocolSchema,
  ports: z.object({ from: portSchema, to: portSchema.optional() }).strict().optional(),
  remoteCidr: cidrSchema.optional(),
  description: descriptionSchema.optional(),
};
export const resourceAccessRule = z
  .object(ruleFields)
  .strict()
  .superRefine((r, ctx) => {
    const checked = accessRuleInput.safeParse(r);
    if (!checked.success) addCrossFieldIssues(ruleFields, r, checked.error.issues, ctx);
  });
export type ResourceAccessRule = z.infer<typeof resourceAccessRule>;

export const resourceProject = z
  .object({
    apiVersion: z.literal(RESOURCES_API_VERSION, { error: `apiVersion must be ${RESOURCES_API_VERSION}` }),
    kind: z.literal('Project', { error: 'kind must be Project' }),
    /** Unique within the organisation; a project is found by it. */
    name: projectNameSchema,
    description: descriptionSchema.optional(),
    /** Fixed once the project exists (a change is refused). */
    placements: z.array(placementSchema.strict()).min(1, 'at least one placement is needed').max(16, 'at most 16 placements'),
    /** Users and groups of the organisation with their role, in every placement. */
    members: z.array(resourceMember).default([]),
    networks: z.array(resourceNetwork).default([]),
    accessRules: z.array(resourceAccessRule).default([]),
    /** Per region: the limits named are kept at these values; limits not named are left alone. */
    quotas: z.record(regionNameSchema, resourceQuotaLimits).default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.placements.forEach((pl, i) => {
      const key = `${pl.region}/${pl.platform}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['placements', i], message: `${key} is listed twice` });
      seen.add(key);
    });
    const regions = new Set(p.placements.map((pl) => pl.region));
    const members = new Set<string>();
    p.members.forEach((m, i) => {
      const key = m.user !== undefined ? `user ${m.user}` : `group ${m.group}`;
      if (members.has(key)) ctx.addIssue({ code: 'custom', path: ['members', i], message: `${key} is listed twice` });
      members.add(key);
    });
    const networks = new Set<string>();
    p.networks.forEach((n, i) => {
      const key = `${n.region}/${n.name}`;
      if (networks.has(key))
        ctx.addIssue({ code: 'custom', path: ['networks', i, 'name'], message: `network ${n.name} is listed twice in ${n.region}` });
      networks.add(key);
      if (!p.placements.some((pl) => pl.region === n.region && pl.platform === 'openstack'))
        ctx.addIssue({ code: 'custom', path: ['networks', i, 'region'], message: `the project has no OpenStack placement in ${n.region}` });
    });
    for (const region of Object.keys(p.quotas)) {
      if (!regions.has(region))
        ctx.addIssue({ code: 'custom', path: ['quotas', region], message: `the project has no placement in ${region}` });
    }
  });
export type ResourceProject = z.infer<typeof resourceProject>;

/** The JSON Schema of one document, for editors (published at `/schemas/resources.json` and in `schema/resources.schema.json`). */
export function resourcesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(resourceProject, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $id: 'https://infrafed.io/schemas/resources.json',
    title: 'infrafed project (resources as code)',
    description: 'One YAML document per project of the organisation: placements, members, networks, access rules and quotas per region.',
    ...schema,
  };
}
