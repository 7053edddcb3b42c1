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

/** Echoed values are cut to this many characters (a 1 MB description is not sent back). */
export const MAX_ECHO_CHARS = 64;

/** A value as a problem echoes it: strings longer than `MAX_ECHO_CHARS` cut, with `…` at the end. */
export function echoed(value: unknown): unknown {
  return typeof value === 'string' && value.length > MAX_ECHO_CHARS ? `${value.slice(0, MAX_ECHO_CHARS)}…` : value;
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
    if (value !== undefined && (typeof value !== 'object' || value === null)) problem.value = echoed(value);
    return problem;
  });
}

/** Parses caller input; on failure throws BAD_USER_INPUT listing every problem at once. */
export function parseUserInput<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw badUserInput(toProblems(result.error, input, prefix));
}

export function badUserInput(given: Problem[]): InfrafedError {
  const problems = given.map((p) => ('value' in p ? { ...p, value: echoed(p.value) } : p));
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

type ZodDef = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  catchall?: z.ZodType;
};
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
const WRAPPERS = ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'];

/** The schema a value is checked against under its wrappers (optional, default, the input side of a pipe…). */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let s = schema; ;) {
    const def = defOf(s);
    const inner = WRAPPERS.includes(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
    if (!inner) return s;
    s = inner;
  }
}

/**
 * A problem for every field of `value` that `schema` does not know, at any depth (zod drops unknown
 * keys silently; a caller who misspells a field must hear of it). Objects with a catch-all accept any key.
 */
export function unknownFields(schema: z.ZodType, value: unknown, prefix = ''): Problem[] {
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'array':
      return Array.isArray(value) && def.element
        ? value.flatMap((v, i) => unknownFields(def.element as z.ZodType, v, `${prefix}[${i}]`))
        : [];
    case 'union': {
      // a value that one option takes with no unknown field is fine; otherwise the fewest problems are the closest option
      const found = (def.options ?? []).map((o) => unknownFields(o, value, prefix));
      return found.reduce<Problem[] | null>((best, p) => (best === null || p.length < best.length ? p : best), null) ?? [];
    }
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
      const shape = def.shape ?? {};
      const open = def.catchall !== undefined && defOf(def.catchall).type !== 'never';
      const problems: Problem[] = [];
      for (const [key, v] of Object.entries(value)) {
        const at = prefix === '' ? key : `${prefix}.${key}`;
        // own fields only: `valueOf` or `constructor` in a body are unknown fields, not the prototype's
        const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
        if (field) problems.push(...unknownFields(field, v, at));
        else if (!open) problems.push({ path: at, message: `unknown field; known fields: ${Object.keys(shape).join(', ')}` });
      }
      return problems;
    }
    default:
      return [];
  }
}

/**
 * A problem for every value that the server's configuration does not know (`allowed`: for a schema, the
 * values it may take here, e.g. the configured regions for `regionNameSchema`), at any depth, record keys
 * included. The schemas stay as they are (they do not know the configuration); this is the second look.
 */
export function valuesOutside(
  schema: z.ZodType,
  value: unknown,
  prefix: string,
  allowed: ReadonlyMap<z.ZodType, { values: readonly string[]; message: string }>,
): Problem[] {
  const inner = unwrap(schema);
  const rule = allowed.get(inner);
  if (rule) {
    return typeof value === 'string' && !rule.values.includes(value) ? [{ path: prefix, message: rule.message, value: echoed(value) }] : [];
  }
  const def = defOf(inner) as ZodDef & { keyType?: z.ZodType; valueType?: z.ZodType };
  const at = (key: string) => (prefix === '' ? key : `${prefix}.${key}`);
  switch (def.type) {
    case 'array':
      return Array.isArray(value) && def.element
        ? value.flatMap((v, i) => valuesOutside(def.element as z.ZodType, v, `${prefix}[${i}]`, allowed))
        : [];
    case 'union':
      return (def.options ?? []).some((o) => valuesOutside(o, value, prefix, allowed).length === 0)
        ? []
        : def.options?.[0]
          ? valuesOutside(def.options[0], value, prefix, allowed)
          : [];
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
      const shape = def.shape ?? {};
      return Object.entries(value).flatMap(([key, v]) =>
        Object.hasOwn(shape, key) && shape[key] ? valuesOutside(shape[key], v, at(key), allowed) : [],
      );
    }
    case 'record': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
      const keyRule = def.keyType ? allowed.get(def.keyType) : undefined;
      return Object.entries(value).flatMap(([key, v]) => [
        ...(keyRule && !keyRule.values.includes(key) ? [{ path: at(key), message: keyRule.message, value: echoed(key) }] : []),
        ...(def.valueType ? valuesOutside(def.valueType, v, at(key), allowed) : []),
      ]);
    }
    default:
      return [];
  }
}
