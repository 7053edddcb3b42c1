import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { composeSupergraph, SUPERGRAPH_PATH } from './compose.ts';

describe('supergraph', () => {
  it('is the committed composition of the subgraph SDL (run `npm run compose` after changing schema/sdl)', () => {
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(composeSupergraph());
  });

  it('reaches every subgraph over a nats:// subject', () => {
    const urls = [...composeSupergraph().matchAll(/@join__graph\(name: "(\w+)", url: "([^"]+)"\)/g)].map((m) => [m[1], m[2]]);
    expect(urls).toEqual([
      ['catalog', 'nats://infra.v1.subgraph.catalog.graphql'],
      ['identity', 'nats://infra.v1.subgraph.identity.graphql'],
      ['network', 'nats://infra.v1.subgraph.network.graphql'],
      ['quota', 'nats://infra.v1.subgraph.quota.graphql'],
    ]);
  });
});
