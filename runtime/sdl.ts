import { readFileSync } from 'node:fs';
import type { SubgraphName } from '../schema/subjects.ts';

const sdlDir = new URL('../schema/sdl/', import.meta.url);

/**
 * The SDL of a subgraph, as committed in schema/sdl/, with each `#import "<path>"` line replaced by that
 * file (relative to schema/sdl/; e.g. the `Operation` type every subgraph that submits writes shares).
 */
export function readSubgraphSdl(name: SubgraphName): string {
  return readFileSync(new URL(`${name}.graphql`, sdlDir), 'utf8').replace(/^#import "([^"]+)"$/gm, (_, path: string) =>
    readFileSync(new URL(path, sdlDir), 'utf8'),
  );
}
