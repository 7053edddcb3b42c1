import { runSubgraphMain } from '../../runtime/graphql/subgraphMain.ts';
import { createNetworkSubgraph } from './createNetworkSubgraph.ts';

await runSubgraphMain('network', createNetworkSubgraph);
