import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  catchall?: z.ZodType;
}
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * The GraphQL selection set that asks for every field of a zod object schema, nested objects and arrays
 * included: `{ id name placements { region platform } }`. The REST resources and the GraphQL queries the
 * bridge sends are one definition.
 */
export function selectionOf(schema: z.ZodType): string {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return `{ ${Object.entries(def.shape ?? {})
        .map(([name, field]) => {
          const inner = selectionOf(field);
          return inner ? `${name} ${inner}` : name;
        })
        .join(' ')} }`;
    case 'array':
      return selectionOf(def.element as z.ZodType);
    case 'nullable':
    case 'optional':
    case 'default':
    case 'readonly':
      return selectionOf(def.innerType as z.ZodType);
    case 'pipe':
      return selectionOf(def.in as z.ZodType);
    default:
      return '';
  }
}
