/** Reading postgresql.conf-style files: `name = value` lines, comments, quoted values. */
export interface ConfSetting {
  name: string;
  /** The value as Postgres reads it: quotes removed, '' unescaped. */
  value: string;
}

export interface ParsedConf {
  settings: ConfSetting[];
  /** include, include_if_exists, include_dir directives (never followed for a copy). */
  includes: string[];
}

export function parseConf(text: string): ParsedConf {
  const settings: ConfSetting[] = [];
  const includes: string[] = [];
  for (const rawLine of text.split('\n')) {
    const match = /^\s*([A-Za-z_][\w.-]*)\s*=?\s*(.*)$/.exec(rawLine);
    if (!match || rawLine.trim().startsWith('#')) continue;
    const name = match[1]!.toLowerCase();
    const value = readValue(match[2]!);
    if (name === 'include' || name === 'include_if_exists' || name === 'include_dir') includes.push(value);
    else settings.push({ name, value });
  }
  return { settings, includes };
}

function readValue(rest: string): string {
  const trimmed = rest.trim();
  if (trimmed.startsWith("'")) {
    let value = '';
    for (let i = 1; i < trimmed.length; i++) {
      const char = trimmed[i]!;
      if (char === "'" && trimmed[i + 1] === "'") {
        value += "'";
        i++;
      } else if (char === '\\' && i + 1 < trimmed.length) {
        value += trimmed[++i];
      } else if (char === "'") {
        return value;
      } else {
        value += char;
      }
    }
    return value;
  }
  return trimmed.split('#')[0]!.trim();
}

/** The last value set for `name` (later lines win, as in Postgres). */
export function lastSetting(settings: readonly ConfSetting[], name: string): string | undefined {
  return settings.findLast((setting) => setting.name === name)?.value;
}

export function quoteConfValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}
