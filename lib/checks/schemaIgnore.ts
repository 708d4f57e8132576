/**
 * `checks.schema.ignore`: objects a team manages outside Drizzle, named as dotted paths of one to three
 * parts (`reporting`, `public.legacy_*`, `public.users.search_vector`). A pattern names an object and
 * everything inside it: a schema's tables, a table's columns, indexes and constraints. `*` in a part
 * matches any run of characters; a part holding a dot or a star is written in double quotes.
 */
export interface IgnorePattern {
  /** As written in the config, for the report. */
  text: string;
  parts: RegExp[];
}

/** Splits a pattern into its parts, or says why it is not one. */
export function parseIgnorePattern(text: string): IgnorePattern {
  if (text.includes('\0')) throw new Error(`ignore pattern ${JSON.stringify(text)} contains a NUL character`);
  const parts: RegExp[] = [];
  let rest = text;
  for (;;) {
    let literal: string;
    let glob: boolean;
    if (rest.startsWith('"')) {
      let end = 1;
      literal = '';
      for (;;) {
        const quote = rest.indexOf('"', end);
        if (quote === -1) throw new Error(`ignore pattern ${JSON.stringify(text)} has an unclosed double quote`);
        literal += rest.slice(end, quote);
        if (rest[quote + 1] === '"') {
          literal += '"';
          end = quote + 2;
          continue;
        }
        rest = rest.slice(quote + 1);
        break;
      }
      glob = false;
      if (rest !== '' && !rest.startsWith('.')) throw new Error(`ignore pattern ${JSON.stringify(text)}: expected a dot or the end after a quoted name`);
    } else {
      const dot = rest.indexOf('.');
      literal = dot === -1 ? rest : rest.slice(0, dot);
      rest = dot === -1 ? '' : rest.slice(dot);
      glob = true;
    }
    if (literal === '') throw new Error(`ignore pattern ${JSON.stringify(text)} has an empty part`);
    parts.push(partRegExp(literal, glob));
    if (rest === '') break;
    rest = rest.slice(1);
    if (rest === '') throw new Error(`ignore pattern ${JSON.stringify(text)} ends with a dot`);
  }
  if (parts.length > 3) {
    throw new Error(`ignore pattern ${JSON.stringify(text)} has ${parts.length} parts; write schema, schema.object or schema.table.part, and quote a name that holds a dot`);
  }
  return { text, parts };
}

function partRegExp(literal: string, glob: boolean): RegExp {
  const escaped = literal.replace(/[.+?^${}()|[\]\\*]/g, (c) => (glob && c === '*' ? '.*' : `\\${c}`));
  return new RegExp(`^${escaped}$`, 's');
}

/** Whether an object at `path` (`[schema, table, column]`, `[schema, enum]`, `[schema]`) is ignored, and by which pattern. */
export function ignoredBy(path: readonly string[], patterns: readonly IgnorePattern[]): IgnorePattern | undefined {
  return patterns.find((pattern) => pattern.parts.length <= path.length && pattern.parts.every((part, index) => part.test(path[index]!)));
}
