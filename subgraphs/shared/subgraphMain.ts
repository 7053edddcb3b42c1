import { ApolloServer, type ApolloServerPlugin, type BaseContext, type HeaderMap } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { NatsConnection } from '@nats-io/nats-core';
import { GraphQLError, Kind, parse } from 'graphql';
import { ErrorCode } from '../../schema/errors.ts';
import type { Placement, Platform } from '../../schema/model.ts';
import type { SubgraphName } from '../../schema/subjects.ts';
import { createTokenVerifier, type Principal, type TokenVerifier } from '../../runtime/auth.ts';
import { loadSystemConfig, placementsOf } from '../../runtime/config.ts';
import { runMain } from '../../runtime/lifecycle.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import { natsReady, opsForComponent } from '../../runtime/http/ops.ts';
import { createCircuitBreaker, type CircuitBreaker } from '../../runtime/nats/circuitBreaker.ts';
import { requestAdapter } from '../../runtime/nats/adapterClient.ts';
import { connectNats, natsOptionsOf } from '../../runtime/nats/connect.ts';
import { createControllerClient, type ControllerClient } from './controllerClient.ts';
import { VERSION } from '../../runtime/version.ts';
import { createFormatError } from './errors.ts';
import { readAuditPlugin } from './readAudit.ts';
import { partialErrorsPlugin, startSubgraph, type PartialErrors } from './serveSubgraph.ts';
import { readSubgraphSdl } from '../../runtime/sdl.ts';

/** What a principal that belongs to no organisation yet may ask for: to answer an invitation. */
export const OPEN_FIELDS: ReadonlySet<string> = new Set(['acceptInvitation', 'declineInvitation', '__typename']);

/** Refuses every other operation of a principal that belongs to no organisation yet (FORBIDDEN). */
function membersOnlyPlugin<TContext extends BaseContext & { principal?: Principal }>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation }) {
          if (!contextValue.principal?.unaffiliated) return;
          const open = (operation?.selectionSet.selections ?? []).every((s) => s.kind === Kind.FIELD && OPEN_FIELDS.has(s.name.value));
          if (!open)
            throw new GraphQLError('you belong to no organisation yet: accept an invitation first', {
              extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
            });
        },
      };
    },
  };
}

/** What a subgraph that reads from adapters and writes through the controller is built from. */
export interface SubgraphDeps {
  nc: NatsConnection;
  controller: ControllerClient;
  verifyToken: TokenVerifier;
  /** The configured placements (region + platform). */
  placements: readonly Placement[];
  /** The configured regions with their display names and platforms. */
  regions: readonly { name: string; displayName: string; platforms: readonly Platform[] }[];
  adapterTimeoutMs: number;
  log: Logger;
  /** Reads skip a placement that timed out until its health check answers again (runSubgraphMain makes one per process). */
  breaker?: CircuitBreaker;
}

/**
 * An Apollo subgraph server of the committed SDL, with infrafed's error formatting, partial-result errors
 * and an audit event for every read (`auditedElsewhere`: top-level fields the controller records itself).
 */
export function createSubgraphServer<TContext extends BaseContext & PartialErrors & { principal?: Principal }>(
  name: SubgraphName,
  resolvers: unknown,
  deps: Pick<SubgraphDeps, 'controller' | 'log'>,
  auditedElsewhere: readonly string[] = [],
): ApolloServer<TContext> {
  return new ApolloServer<TContext>({
    schema: buildSubgraphSchema({ typeDefs: parse(readSubgraphSdl(name)), resolvers: resolvers as never }),
    formatError: createFormatError(deps.log),
    includeStacktraceInErrorResponses: false,
    // no inline traces: they are Apollo Studio's, and nothing here reports to it
    plugins: [
      membersOnlyPlugin<TContext>(),
      partialErrorsPlugin<TContext>(deps.log),
      readAuditPlugin<TContext>(deps.controller, name, deps.log, auditedElsewhere),
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
}

/** The process entry point of such a subgraph: configuration, NATS, serve (and HTTP when SUBGRAPH_HTTP_PORT is set), clean stop. */
export async function runSubgraphMain<TContext extends BaseContext>(
  name: SubgraphName,
  create: (deps: SubgraphDeps) => { server: ApolloServer<TContext>; context: (headers: HeaderMap) => Promise<TContext> },
): Promise<void> {
  const log = createLogger(`subgraph-${name}`);
  await runMain(log, async () => {
    const config = loadSystemConfig();
    const nc = await connectNats(natsOptionsOf(config, `subgraph-${name}`));
    const stopOps = await opsForComponent(`subgraph-${name}`, natsReady(nc));
    const breaker = createCircuitBreaker({
      probe: (placement) => requestAdapter(nc, placement, 'health', 'check', {}, { timeoutMs: 2_000 }),
      onChange: (placement, open) =>
        open
          ? log.warn(placement, 'a read timed out: reads do not wait for this placement until its health check answers')
          : log.info(placement, 'the placement answers again: reads ask it again'),
    });
    const { server, context } = create({
      breaker,
      nc,
      controller: createControllerClient(nc, { waitMs: config.timeouts.operationWaitMs }),
      verifyToken: createTokenVerifier(config.auth, { allowUnaffiliated: true }),
      placements: placementsOf(config),
      regions: config.regions.map((r) => ({ name: r.name, displayName: r.displayName, platforms: r.platforms.map((p) => p.platform) })),
      adapterTimeoutMs: config.timeouts.adapterMs,
      log,
    });
    const httpPort = process.env.SUBGRAPH_HTTP_PORT ? Number(process.env.SUBGRAPH_HTTP_PORT) : undefined;
    const running = await startSubgraph({ nc, name, server, context, log, version: VERSION, httpPort });
    log.info({ httpUrl: running.httpUrl }, `${name} subgraph ready`);
    return async () => {
      breaker.stop();
      await running.stop();
      await nc.drain();
      await stopOps();
    };
  });
}
