import { runSubgraphMain } from '../shared/subgraphMain.ts';
import { createCatalogSubgraph } from './createCatalogSubgraph.ts';

await runSubgraphMain('catalog', (deps) => createCatalogSubgraph(deps));
