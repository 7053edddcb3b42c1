import { runSubgraphMain } from '../shared/subgraphMain.ts';
import { createQuotaSubgraph } from './createQuotaSubgraph.ts';

await runSubgraphMain('quota', createQuotaSubgraph);
