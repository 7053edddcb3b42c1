import { z } from 'zod';
import { setEntitlementsInput } from './entitlements.ts';
import { organizationIdSchema } from './model.ts';
import { createProjectInput, operationViewSchema } from './operations.ts';
import { invitationViewSchema, subjectSchema } from './people.ts';

/** An organisation onboarded in one call (platform operators): entitlements, its first owner invited, optionally a first project. */
export const onboardInput = z.object({
  organization: organizationIdSchema,
  entitlements: setEntitlementsInput.omit({ organization: true, ifVersion: true }).default({
    total: {},
    regions: [],
    platforms: [],
    projectDefaults: {},
  }),
  owner: z
    .object({
      email: z.email('the e-mail address is not valid').max(254).nullish(),
      /** The subject that alone may accept (e.g. `campus:<sub>`). */
      subject: subjectSchema.nullish(),
      ttlSeconds: z
        .number()
        .int()
        .min(1)
        .max(30 * 86_400)
        .nullish(),
    })
    .refine((o) => Boolean(o.email || o.subject), { message: 'name the owner by e-mail address or subject', path: ['email'] }),
  project: createProjectInput.partial({ description: true }).nullish(),
});
export type OnboardInput = z.infer<typeof onboardInput>;

export const onboardingSchema = z.object({
  organization: z.string(),
  /** running (the first project's operation still runs), succeeded, failed (every step undone). */
  state: z.enum(['running', 'succeeded', 'failed']),
  by: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  entitlementsVersion: z.number().int().nullable(),
  invitationId: z.string().nullable(),
  operationId: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export const onboardReply = z.object({
  onboarding: onboardingSchema,
  invitation: invitationViewSchema.nullable(),
  /** The owner invitation's secret: shown only here. */
  secret: z.string().nullable(),
  operation: operationViewSchema.nullable(),
});
