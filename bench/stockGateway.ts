// A stock gateway for `npm run bench`, as its users would run it: the Hive Gateway runtime with its default
// HTTP transport, or Apollo Gateway in Apollo Server, over the HTTP faces of infrafed's own subgraphs.
// Each passes the caller's Authorization on (the subgraphs verify it). Usage:
//   node bench/stockGateway.ts hive|apollo <port> <supergraph file with http:// subgraph urls>
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const [kind, portArg, supergraphPath] = process.argv.slice(2);
const port = Number(portArg);
const supergraphSdl = readFileSync(supergraphPath as string, 'utf8');
const ready = () => process.stdout.write(`${kind} gateway ready on ${port}\n`);

if (kind === 'hive') {
  const { createGatewayRuntime } = await import('@graphql-hive/gateway-runtime');
  const gateway = createGatewayRuntime({
    supergraph: supergraphSdl,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') ?? '' }),
    },
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: false,
  });
  createServer(gateway).listen(port, '127.0.0.1', ready);
} else if (kind === 'apollo') {
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const { ApolloGateway, RemoteGraphQLDataSource } = await import('@apollo/gateway');
  const { ApolloServer } = await import('@apollo/server');
  const { startStandaloneServer } = await import('@apollo/server/standalone');
  type Ctx = { authorization: string };
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<Ctx>({
        url,
        willSendRequest({ request, context }) {
          request.http?.headers.set('authorization', context.authorization ?? '');
        },
      }),
  });
  const server = new ApolloServer<Ctx>({ gateway });
  await startStandaloneServer(server, {
    listen: { port, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization ?? '' }),
  });
  ready();
} else {
  process.stderr.write('usage: node bench/stockGateway.ts hive|apollo <port> <supergraph>\n');
  process.exit(2);
}
