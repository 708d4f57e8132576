import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The objects a schema may hold at a path (through optional, default, pipe, union and array wrappers). */
function objectsAt(schema: z.ZodType, path: readonly PropertyKey[]): Record<string, z.ZodType>[] {
  const def = defOf(schema);
  const inner = [def.innerType, def.in, def.out, def.left, def.right, ...(def.options ?? []), def.getter?.()].filter((s): s is z.ZodType => s !== undefined);
  if (def.type === 'object' && def.shape) {
    if (path.length === 0) return [def.shape];
    const next = def.shape[String(path[0])];
    return next ? objectsAt(next, path.slice(1)) : [];
  }
  if (def.type === 'array' && def.element) return typeof path[0] === 'number' ? objectsAt(def.element, path.slice(1)) : [];
  return inner.flatMap((candidate) => objectsAt(candidate, path));
}

/** The known key nearest to a misspelt one (case, a letter or two), if any. */
export function nearestKey(schema: z.ZodType, path: readonly PropertyKey[], key: string): string | undefined {
  const known = [...new Set(objectsAt(schema, path).flatMap((shape) => Object.keys(shape)))];
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    // Case, a letter or two, or a unit left off (pollInterval for pollIntervalSeconds).
    const lower = [candidate.toLowerCase(), key.toLowerCase()] as const;
    const distance = lower[0] === lower[1] ? 0 : lower[0].startsWith(lower[1]) && key.length >= 4 ? 1 : editDistance(candidate, key);
    if (distance <= Math.max(2, Math.floor(key.length / 4)) && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Levenshtein distance: how many single-character edits make a into b. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
