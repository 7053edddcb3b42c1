import { runSubgraphMain } from '../shared/subgraphMain.ts';
import { createNetworkSubgraph } from './createNetworkSubgraph.ts';

await runSubgraphMain('network', createNetworkSubgraph);
