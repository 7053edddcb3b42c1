import { describe, expect, it } from '@jest/globals';
import { childTraceparent, newTraceparent, traceIdOf } from './context.ts';

describe('trace context', () => {
  it('makes valid, distinct traces and spans (ids drawn from a pool of random bytes, never reused)', () => {
    const traces = Array.from({ length: 1000 }, () => newTraceparent());
    for (const t of traces) expect(traceIdOf(t)).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(traces).size).toBe(1000);
    const parent = traces[0] as string;
    const children = Array.from({ length: 500 }, () => childTraceparent(parent));
    for (const c of children) {
      expect(traceIdOf(c)).toBe(traceIdOf(parent));
      expect(c).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
    expect(new Set(children.map((c) => c.split('-')[2])).size).toBe(500);
  });
});
