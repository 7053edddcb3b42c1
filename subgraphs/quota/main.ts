import { runSubgraphMain } from '../../runtime/graphql/subgraphMain.ts';
import { createQuotaSubgraph } from './createQuotaSubgraph.ts';

await runSubgraphMain('quota', createQuotaSubgraph);
