import { readFileSync } from 'node:fs';
import type { SubgraphName } from '../schema/subjects.ts';

/** The SDL of a subgraph, as committed in schema/sdl/. */
export function readSubgraphSdl(name: SubgraphName): string {
  return readFileSync(new URL(`../schema/sdl/${name}.graphql`, import.meta.url), 'utf8');
}
