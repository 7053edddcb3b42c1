import { Kind, type OperationDefinitionNode } from 'graphql';

/**
 * What a read's audit event says it read, the same wherever the event is made (a subgraph after answering,
 * the gateway when its cache gives an answer again): the operation's top-level fields (`projects`,
 * `project`, `_entities`; never `__typename`) and the project a variable named.
 */
export function topLevelFields(operation: OperationDefinitionNode | null | undefined): string[] {
  return (operation?.selectionSet.selections ?? []).flatMap((s) =>
    s.kind === Kind.FIELD && s.name.value !== '__typename' ? [s.name.value] : [],
  );
}

/** The project a read named in its variables (`projectId` or `id`), or null. */
export function projectIdOf(variables: Record<string, unknown> | null | undefined): string | null {
  return [variables?.projectId, variables?.id].find((v): v is string => typeof v === 'string' && v.startsWith('prj_')) ?? null;
}
