import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { projectIdOf, topLevelFields } from '../../runtime/readAuditFields.ts';
import type { ReadAuditRequest } from '../../schema/audit.ts';
import { Header, type SubgraphName } from '../../schema/subjects.ts';
import type { Principal } from '../../runtime/auth.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ControllerClient } from './controllerClient.ts';

/**
 * Reads are decisions too: each query a subgraph answers for a known principal becomes an audit event
 * (`read.<subgraph>`, the fields read in `kind`, the project when one was named, `denied` when the answer
 * carries FORBIDDEN). Writes and the controller's own reads (`auditedElsewhere`) are recorded by the
 * controller. Published after the answer, never awaited by it: auditing does not slow or break a read.
 */
export function readAuditPlugin<TContext extends BaseContext & { principal?: Principal; forward?: Record<string, string> }>(
  controller: Pick<ControllerClient, 'recordRead'>,
  subgraph: SubgraphName,
  log: Logger,
  auditedElsewhere: readonly string[] = [],
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operation, contextValue, response, request }) {
          const principal = contextValue.principal;
          if (!principal || operation?.operation !== 'query') return;
          const fields = topLevelFields(operation);
          if (fields.length === 0 || fields.every((f) => auditedElsewhere.includes(f))) return;
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          const forbidden = errors.find((e) => e.extensions?.code === 'FORBIDDEN');
          const projectId = projectIdOf(request.variables);
          const event: ReadAuditRequest = {
            subgraph,
            fields: fields.join(',').slice(0, 500),
            projectId,
            decision: forbidden ? 'denied' : 'allowed',
            result: forbidden ? 'FORBIDDEN' : errors.length > 0 ? String(errors[0]?.extensions?.code ?? 'ERROR') : 'ok',
            reason: forbidden?.message ?? null,
          };
          // the controller writes it, in the name the caller's token gives (never awaited by the read)
          const headers = contextValue.forward;
          if (!headers?.[Header.authorization]) return;
          controller
            .recordRead(event, { headers })
            .catch((error: unknown) => log.warn({ err: error, action: `read.${subgraph}` }, 'audit event not recorded'));
        },
      };
    },
  };
}
