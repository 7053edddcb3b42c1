import { runSubgraphMain } from '../../runtime/graphql/subgraphMain.ts';
import { createIdentitySubgraph } from './createIdentitySubgraph.ts';

await runSubgraphMain('identity', createIdentitySubgraph);
