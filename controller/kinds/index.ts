import type { OperationKind } from '../../schema/operations.ts';
import type { KindTable, OperationKindDefinition } from './kind.ts';
import * as accessRules from './accessRules.ts';
import * as members from './members.ts';
import * as networks from './networks.ts';
import * as projects from './projects.ts';
import * as quotas from './quotas.ts';
import * as shares from './shares.ts';

/** Every kind of operation the controller runs, by name; a domain file's kinds join by being exported from it. */
export const kinds: KindTable = { ...projects, ...members, ...shares, ...networks, ...accessRules, ...quotas };

/** The definition of a kind, its request type widened (the table guarantees it matches). */
export function kindOf(kind: OperationKind): OperationKindDefinition {
  return kinds[kind] as unknown as OperationKindDefinition;
}
