import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { InfrafedError } from '../schema/errors.ts';
import { parseUserInput, toPath } from './problems.ts';

describe('problems', () => {
  it('writes paths as the caller wrote them', () => {
    expect(toPath(['placements', 0, 'region'])).toBe('placements[0].region');
    expect(toPath(['name'], 'input')).toBe('input.name');
  });

  it('throws BAD_USER_INPUT listing every problem with its value', () => {
    const schema = z.object({ a: z.string().min(2), b: z.array(z.number().int()) });
    let caught: unknown;
    try {
      parseUserInput(schema, { a: 'x', b: [1, 2.5] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InfrafedError);
    const e = caught as InfrafedError;
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.extensions.problems).toEqual([
      expect.objectContaining({ path: 'a', value: 'x' }),
      expect.objectContaining({ path: 'b[1]', value: 2.5 }),
    ]);
  });
});
