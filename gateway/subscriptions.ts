import type { NatsConnection } from '@nats-io/nats-core';
import type { ExecutionRequest, ExecutionResult } from '@graphql-tools/utils';
import { Kind, visit, type DocumentNode, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { progressSubject } from '../schema/subjects.ts';

/** The subscription fields the gateway serves (identity subgraph's `Subscription`). */
const FIELDS = new Set(['operationUpdated', 'operationsUpdated']);
const FINAL = new Set(['SUCCEEDED', 'FAILED']);
const OPERATION_VARIABLE = 'infrafedOperationId';
/** After this long without an announcement, `operationUpdated` reads its operation again. */
const QUIET_REREAD_MS = 5_000;

/**
 * The subscription as the query that reads its operation: `subscription { u: operationUpdated(id: $id) { … } }`
 * becomes `query($infrafedOperationId: ID!) { u: operation(id: $infrafedOperationId) { … } }`, so every event
 * is answered by the subgraph with the caller's own token (its visibility rules, its projection).
 */
export function toOperationQuery(document: DocumentNode): {
  query: DocumentNode;
  field: 'operationUpdated' | 'operationsUpdated';
  responseKey: string;
  args: Record<string, unknown>;
} {
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const root =
    operation?.selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value !== '__typename') ?? [];
  const first = root[0];
  if (!operation || root.length !== 1 || !first || !FIELDS.has(first.name.value)) {
    throw new InfrafedError(ErrorCode.BAD_USER_INPUT, 'subscribe to one field at a time: operationUpdated or operationsUpdated');
  }
  const field = first.name.value as 'operationUpdated' | 'operationsUpdated';
  const args: Record<string, unknown> = {};
  for (const a of first.arguments ?? []) args[a.name.value] = a.value;
  // variables only the subscription's arguments used are not the query's (an unused variable is invalid)
  const rootVariables = new Set((first.arguments ?? []).flatMap((a) => (a.value.kind === Kind.VARIABLE ? [a.value.name.value] : [])));
  const query = visit(document, {
    OperationDefinition(node) {
      return {
        ...node,
        operation: 'query' as never,
        variableDefinitions: [
          ...(node.variableDefinitions ?? []).filter((v) => !rootVariables.has(v.variable.name.value)),
          {
            kind: Kind.VARIABLE_DEFINITION,
            variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: OPERATION_VARIABLE } },
            type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
          },
        ],
      };
    },
    Field(node, _key, _parent, path) {
      // the root field only (its path: definitions, n, selectionSet, selections, m)
      if (node !== first || path.length !== 5) return undefined;
      return {
        ...node,
        alias: { kind: Kind.NAME, value: node.alias?.value ?? node.name.value },
        name: { kind: Kind.NAME, value: 'operation' },
        arguments: [
          {
            kind: Kind.ARGUMENT,
            name: { kind: Kind.NAME, value: 'id' },
            value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: OPERATION_VARIABLE } },
          },
        ],
      };
    },
  });
  return { query, field, responseKey: first.alias?.value ?? first.name.value, args };
}

/** The value of an argument node (a literal or a variable of the request). */
function argumentValue(node: unknown, variables: Record<string, unknown>): unknown {
  const n = node as { kind: string; value?: unknown; name?: { value: string } } | undefined;
  if (!n) return undefined;
  if (n.kind === Kind.VARIABLE) return variables[n.name?.value ?? ''];
  if (n.kind === Kind.NULL) return null;
  return n.value;
}

const error = (code: ErrorCode, message: string): ExecutionResult => ({ errors: [{ message, extensions: { code } }] as never });

/**
 * A subscription served from the controller's progress announcements on NATS (`infra.v1.progress.<org>.…`,
 * the caller's organisation only): on each, the operation is read through the subgraph as the caller. The
 * stream of `operationUpdated` starts with the operation as it is and ends after it finishes.
 */
export async function* subscribeToOperations(deps: {
  nc: NatsConnection;
  request: ExecutionRequest;
  /** The caller's organisation (from its verified token). */
  organization: string;
  /** One query to the subgraph with the caller's headers. */
  read: (query: DocumentNode, variables: Record<string, unknown>) => Promise<ExecutionResult>;
  /** The same query answered from an operation the controller announced (the subgraph's schema, no call). */
  answer: (query: DocumentNode, variables: Record<string, unknown>, operation: unknown) => Promise<ExecutionResult>;
  /** Quiet time before `operationUpdated` reads again (default {@link QUIET_REREAD_MS}). */
  quietMs?: number;
}): AsyncGenerator<ExecutionResult> {
  const { nc, request, organization } = deps;
  let plan;
  try {
    plan = toOperationQuery(request.document);
  } catch (e) {
    yield error((e as InfrafedError).code ?? ErrorCode.BAD_USER_INPUT, (e as Error).message);
    return;
  }
  const variables = (request.variables ?? {}) as Record<string, unknown>;
  let only: string | null = null;
  if (plan.field === 'operationUpdated') {
    only = String(argumentValue(plan.args.id, variables) ?? '');
    if (!/^op_[0-9a-z]{26}$/.test(only)) {
      yield error(ErrorCode.BAD_USER_INPUT, 'an operation id looks like op_ followed by 26 letters or digits');
      return;
    }
  } else {
    const asked = argumentValue(plan.args.organization, variables);
    if (asked != null && asked !== organization) {
      yield error(ErrorCode.FORBIDDEN, `your token is for organization ${organization}, not ${String(asked)}`);
      return;
    }
  }
  // listen first, then read: nothing that happens in between is missed
  const sub = nc.subscribe(progressSubject(organization, only ?? '*'));
  const { [OPERATION_VARIABLE]: _ignored, ...rest } = variables;
  const last = new Map<string, string>();
  const readOne = async (
    operationId: string,
    announced?: unknown,
  ): Promise<{ result: ExecutionResult; changed: boolean; found: boolean }> => {
    const vars = { ...rest, [OPERATION_VARIABLE]: operationId };
    const result = announced ? await deps.answer(plan.query, vars, announced) : await deps.read(plan.query, vars);
    const value = (result.data as Record<string, unknown> | null | undefined)?.[plan.responseKey];
    const text = JSON.stringify(result);
    const changed = last.get(operationId) !== text;
    last.set(operationId, text);
    return { result: value == null ? result : { ...result, data: { [plan.responseKey]: value } }, changed, found: value != null };
  };
  try {
    if (only) {
      const first = await readOne(only);
      if (!first.found) {
        yield first.result.errors?.length ? first.result : error(ErrorCode.NOT_FOUND, `operation ${only} not found`);
        return;
      }
      yield first.result;
      const status = ((first.result.data as Record<string, { status?: string }>)[plan.responseKey] ?? {}).status;
      if (status && FINAL.has(status)) return;
    }
    const messages = sub[Symbol.asyncIterator]();
    let pending = messages.next();
    for (;;) {
      // announcements are core NATS (at most once): one operation's stream asks again after a quiet while,
      // so a lost announcement (its end above all) delays it, never leaves it waiting for ever
      const quiet = only ? new Promise<'quiet'>((resolve) => setTimeout(resolve, deps.quietMs ?? QUIET_REREAD_MS, 'quiet').unref()) : null;
      const got = await (quiet ? Promise.race([pending, quiet]) : pending);
      if (got === 'quiet') {
        const again = await readOne(only as string);
        if (again.found && again.changed) yield again.result;
        const status = ((again.result.data as Record<string, { status?: string }> | null | undefined)?.[plan.responseKey] ?? {}).status;
        if (status && FINAL.has(status)) return;
        continue;
      }
      if (got.done) return;
      pending = messages.next();
      const { operationId, status, operation } = got.value.json<{ operationId: string; status: string; operation?: unknown }>();
      const next = await readOne(operationId, operation);
      if (next.found && next.changed) yield next.result;
      if (FINAL.has(status)) last.delete(operationId);
      if (only && FINAL.has(status)) return;
    }
  } finally {
    sub.unsubscribe();
  }
}
