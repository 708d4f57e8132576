/**
 * Whether a policy's Resource (an ARN with IAM's `*` and `?` wildcards) can name a resource of a
 * type whose ARN format the Service Authorization Reference gives, e.g.
 * `arn:${Partition}:rds:${Region}:${Account}:db:${DbInstanceName}`.
 *
 * A `${Variable}` is one or more characters. It never holds the separator that follows it in the
 * format (so `${BucketName}/${ObjectName}` splits at the first `/`), nor a `:` unless it is the
 * format's last element: Lambda's `function:name:*` (any version or alias) and CloudWatch Logs'
 * `log-group:name:*` are the documented ways to name those types. The last variable may hold `/`
 * too (IAM's `role/${RoleNameWithPath}`, S3 object keys). This is a compatibility check: it is true
 * when some concrete ARN fits both.
 */
export function resourceFitsArnFormat(resource: string, format: string): boolean {
  if (resource === '*') return true;
  const glob = globStates(resource);
  const elements = formatElements(format);
  // Breadth-first over pairs of positions (glob state, format element, inside a variable?).
  const seen = new Set<string>();
  const queue: [number, number, boolean][] = [[0, 0, false]];
  const push = (g: number, f: number, inVariable: boolean) => {
    const key = `${g}/${f}/${inVariable}`;
    if (!seen.has(key)) {
      seen.add(key);
      queue.push([g, f, inVariable]);
    }
  };
  while (queue.length) {
    const [g, f, inVariable] = queue.shift()!;
    const element = elements[f];
    // Epsilon moves: a glob `*` may match nothing; a variable that holds one character or more may end.
    if (glob[g]?.kind === 'star') push(g + 1, f, inVariable);
    if (element?.kind === 'variable' && inVariable) push(g, f + 1, false);
    if (g === glob.length && f === elements.length) return true;
    const symbol = glob[g];
    if (!symbol || !element) continue;
    // Each glob symbol consumes one character, which the format element must allow.
    const next = symbol.kind === 'star' ? g : g + 1;
    if (element.kind === 'literal') {
      if (symbol.kind === 'char' ? symbol.char === element.char : true) push(next, f + 1, false);
    } else if (symbol.kind === 'char' ? !element.forbidden.has(symbol.char) : true) {
      push(next, f, true);
    }
  }
  return false;
}

type GlobSymbol = { kind: 'char'; char: string } | { kind: 'star' } | { kind: 'any' };
type FormatElement = { kind: 'literal'; char: string } | { kind: 'variable'; forbidden: Set<string> };

function globStates(resource: string): GlobSymbol[] {
  return [...resource].map((char) => (char === '*' ? { kind: 'star' } : char === '?' ? { kind: 'any' } : { kind: 'char', char }));
}

function formatElements(format: string): FormatElement[] {
  const parts = format.split(/(\$\{[^}]+\})/).filter((part) => part !== '');
  const elements: FormatElement[] = [];
  parts.forEach((part, index) => {
    if (!part.startsWith('${')) {
      for (const char of part) elements.push({ kind: 'literal', char });
      return;
    }
    const following = parts[index + 1]?.[0];
    const last = index === parts.length - 1;
    elements.push({ kind: 'variable', forbidden: new Set(last ? [] : [':', ...(following && following !== ':' ? [following] : [])]) });
  });
  return elements;
}
