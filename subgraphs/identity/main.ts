import { runSubgraphMain } from '../shared/subgraphMain.ts';
import { createIdentitySubgraph } from './createIdentitySubgraph.ts';

await runSubgraphMain('identity', createIdentitySubgraph);
