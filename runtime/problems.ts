import type { z } from 'zod';
import { InfrafedError, type Problem } from '../schema/errors.ts';

/** Dotted path as the caller wrote it: `placements[0].region`. */
export function toPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[part];
  }
  return cur;
}

/**
 * Every problem zod found, with the offending value (never a secret: inputs here carry none). `prefix`
 * goes before each path; a function chooses it by the path's first segment (e.g. `path` or `body`).
 */
export function toProblems(
  error: z.ZodError,
  input: unknown,
  prefix: string | ((first: PropertyKey | undefined) => string) = '',
): Problem[] {
  return error.issues.map((issue) => {
    const value = valueAt(input, issue.path);
    const problem: Problem = {
      path: toPath(issue.path, typeof prefix === 'string' ? prefix : prefix(issue.path[0])),
      message: issue.message,
    };
    if (value !== undefined && (typeof value !== 'object' || value === null)) problem.value = value;
    return problem;
  });
}

/** Parses caller input; on failure throws BAD_USER_INPUT listing every problem at once. */
export function parseUserInput<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw badUserInput(toProblems(result.error, input, prefix));
}

export function badUserInput(problems: Problem[]): InfrafedError {
  const summary = problems.map((p) => `${p.path || '(input)'}: ${p.message}`).join('; ');
  return new InfrafedError('BAD_USER_INPUT', `invalid input: ${summary}`, { problems });
}

/** GraphQL gives an explicit null for an optional argument the caller wrote as null: treat it as left out. */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out as T;
}
