import { createHash } from 'node:crypto';
import { z } from 'zod';
import { contains, formatCidr, hostBitsSet, isIpv4Broadcast, networkAddress, parseCidr, parseIp } from './ip.ts';
import { descriptionSchema, projectIdSchema, regionNameSchema } from './model.ts';

/** Global network id chosen by infrafed: `net_` + a ULID (lower-cased). */
export const networkIdSchema = z.string().regex(/^net_[0-9a-z]{26}$/, 'a network id looks like net_ followed by 26 letters or digits');

/**
 * Access rule id: `acr_` + 26 hex digits of a hash of the rule's normalised content, so the same rule has
 * the same id in every placement and applying it again finds it.
 */
export const accessRuleIdSchema = z.string().regex(/^acr_[0-9a-f]{26}$/, 'an access rule id looks like acr_ followed by 26 hex digits');

export const networkNameSchema = z
  .string()
  .min(1, 'the name must not be empty')
  .max(64, 'the name must be at most 64 characters')
  .regex(
    /^([A-Za-z0-9][A-Za-z0-9._-]*)?$/,
    'the name may contain letters, digits, dots, dashes and underscores, and starts with a letter or digit',
  );

export const ipAddressSchema = z.string().refine((s) => parseIp(s) !== null, 'not an IPv4 or IPv6 address');

/** A block in canonical form; host bits must be clear (Neutron refuses `10.0.0.5/24`). */
export const cidrSchema = z.string().superRefine((s, ctx) => {
  const cidr = parseCidr(s);
  if (!cidr) ctx.addIssue({ code: 'custom', message: 'not a CIDR block (e.g. 10.0.0.0/24 or 2001:db8::/64)' });
  else if (hostBitsSet(cidr)) ctx.addIssue({ code: 'custom', message: `host bits are set; the block is ${formatCidr(cidr)}` });
});

export const routerInputSchema = z.object({
  /** Attach the router to the region's external network (a gateway to the outside). */
  external: z.boolean().default(false),
});

export const createNetworkInput = z
  .object({
    projectId: projectIdSchema,
    region: regionNameSchema,
    name: networkNameSchema,
    cidr: cidrSchema,
    /** Default: the first address of the block. */
    gatewayIp: ipAddressSchema.nullish(),
    dnsNameservers: z.array(ipAddressSchema).max(5, 'at most 5 DNS name servers').default([]),
    /** A router with an interface on the subnet; absent or null: none. */
    router: routerInputSchema.nullish(),
  })
  .superRefine((input, ctx) => {
    const cidr = parseCidr(input.cidr);
    const gateway = input.gatewayIp ? parseIp(input.gatewayIp) : null;
    // checked against the block the CIDR names even when its host bits are set (that is reported on its own)
    if (!cidr || !gateway) return;
    if (!contains(cidr, gateway)) {
      ctx.addIssue({ code: 'custom', path: ['gatewayIp'], message: `the gateway is not inside ${formatCidr(cidr)}` });
    } else if (cidr.version === 4 && cidr.prefix < 31 && (gateway.value === networkAddress(cidr) || isIpv4Broadcast(cidr, gateway))) {
      // (IPv6 has no broadcast, and its network address is a valid gateway: Neutron's own default)
      ctx.addIssue({
        code: 'custom',
        path: ['gatewayIp'],
        message: `the gateway cannot be the network or broadcast address of ${formatCidr(cidr)}`,
      });
    }
  });
export type CreateNetworkInput = z.infer<typeof createNetworkInput>;

export const deleteNetworkInput = z.object({ projectId: projectIdSchema, networkId: networkIdSchema });

export const directionSchema = z.enum(['ingress', 'egress']);
export const protocolSchema = z.enum(['tcp', 'udp', 'icmp', 'any']);
export const portSchema = z.number().int('a port is a whole number').min(1, 'a port is 1-65535').max(65_535, 'a port is 1-65535');

/** An access rule as a caller writes it. */
export const accessRuleInput = z
  .object({
    direction: directionSchema,
    protocol: protocolSchema,
    /** One port (`to` absent) or a range; absent: every port. Only for tcp and udp. */
    ports: z.object({ from: portSchema, to: portSchema.nullish() }).nullish(),
    /** The other side of the traffic. Default: anywhere (0.0.0.0/0). */
    remoteCidr: cidrSchema.default('0.0.0.0/0'),
    description: descriptionSchema.default(''),
  })
  .superRefine((rule, ctx) => {
    if (!rule.ports) return;
    if (rule.protocol !== 'tcp' && rule.protocol !== 'udp') {
      ctx.addIssue({ code: 'custom', path: ['ports'], message: `ports apply to tcp and udp only, not ${rule.protocol}` });
    }
    if (rule.ports.to != null && rule.ports.to < rule.ports.from) {
      ctx.addIssue({
        code: 'custom',
        path: ['ports', 'to'],
        message: `the range ends (${rule.ports.to}) before it starts (${rule.ports.from})`,
      });
    }
  });
export type AccessRuleInput = z.infer<typeof accessRuleInput>;

/** A rule in one canonical form: what every platform stores and what its id is computed from. */
export const accessRuleSchema = z.object({
  id: accessRuleIdSchema,
  direction: directionSchema,
  protocol: protocolSchema,
  portFrom: portSchema.nullable(),
  portTo: portSchema.nullable(),
  remoteCidr: z.string(),
  description: z.string(),
});
export type AccessRule = z.infer<typeof accessRuleSchema>;

/** The id of a rule's content (description aside: it does not change what the rule allows). */
export function accessRuleId(rule: Pick<AccessRule, 'direction' | 'protocol' | 'portFrom' | 'portTo' | 'remoteCidr'>): string {
  const key = [rule.direction, rule.protocol, rule.portFrom ?? '', rule.portTo ?? '', rule.remoteCidr].join('|');
  return `acr_${createHash('sha256').update(key).digest('hex').slice(0, 26)}`;
}

/**
 * Normalises a rule: a single port becomes a range of one, "every port" is no range, the CIDR is written
 * canonically (IPv6 compressed, host bits cleared). Platforms' rules go through here too, so they match.
 */
export function normalizeAccessRule(rule: {
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  portFrom: number | null;
  portTo: number | null;
  remoteCidr: string;
  description: string;
}): AccessRule {
  const cidr = parseCidr(rule.remoteCidr);
  const remoteCidr = cidr ? formatCidr(cidr) : rule.remoteCidr;
  const ported = rule.protocol === 'tcp' || rule.protocol === 'udp';
  let portFrom = ported ? rule.portFrom : null;
  let portTo = ported ? (rule.portTo ?? rule.portFrom) : null;
  // 1-65535 is every port: the same rule as no range
  if (portFrom === 1 && portTo === 65_535) portFrom = portTo = null;
  const content = { direction: rule.direction, protocol: rule.protocol, portFrom, portTo, remoteCidr };
  return { id: accessRuleId(content), ...content, description: rule.description };
}

export function fromAccessRuleInput(input: AccessRuleInput): AccessRule {
  return normalizeAccessRule({
    direction: input.direction,
    protocol: input.protocol,
    portFrom: input.ports?.from ?? null,
    portTo: input.ports?.to ?? input.ports?.from ?? null,
    remoteCidr: input.remoteCidr,
    description: input.description,
  });
}

export const applyAccessRuleInput = z.object({ projectId: projectIdSchema, rule: accessRuleInput });
export const removeAccessRuleInput = z.object({ projectId: projectIdSchema, ruleId: accessRuleIdSchema });

/** IP version of a canonical CIDR (for platforms that need it, e.g. Neutron's ethertype). */
export function ipVersionOf(cidr: string): 4 | 6 {
  return parseCidr(cidr)?.version ?? 4;
}
