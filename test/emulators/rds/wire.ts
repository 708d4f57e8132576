/**
 * The RDS Query API's wire format: form-encoded parameters in (lists as `Name.Member.N` or
 * `Name.member.N`), XML out, in the namespace of API version 2014-10-31.
 */
export const RDS_NAMESPACE = 'http://rds.amazonaws.com/doc/2014-10-31/';
export const RDS_API_VERSION = '2014-10-31';

export class QueryParams {
  readonly raw: Map<string, string>;

  constructor(body: string) {
    this.raw = new Map(new URLSearchParams(body));
  }

  string(name: string): string | undefined {
    return this.raw.get(name);
  }

  bool(name: string): boolean | undefined {
    const value = this.raw.get(name);
    return value === undefined ? undefined : value === 'true';
  }

  int(name: string): number | undefined {
    const value = this.raw.get(name);
    return value === undefined ? undefined : Number(value);
  }

  /** A list of scalars: `Name.Member.1`, `Name.member.2`, or `Name.1`. */
  list(name: string): string[] {
    return this.entries(name).map(([, fields]) => fields.get('') ?? '');
  }

  /** A list of structures: `Name.Member.1.Field` (Tags.Tag.1.Key, Filters.Filter.1.Values.Value.1). */
  structures(name: string): Map<string, string>[] {
    return this.entries(name).map(([, fields]) => fields);
  }

  private entries(name: string): [number, Map<string, string>][] {
    const pattern = new RegExp(`^${name.replace(/\./g, '\\.')}\\.(?:[A-Za-z]+\\.)?(\\d+)(?:\\.(.+))?$`);
    const items = new Map<number, Map<string, string>>();
    for (const [key, value] of this.raw) {
      const match = pattern.exec(key);
      if (!match) continue;
      const index = Number(match[1]);
      if (!items.has(index)) items.set(index, new Map());
      items.get(index)!.set(match[2] ?? '', value);
    }
    return [...items].sort(([a], [b]) => a - b);
  }

  toObject(): Record<string, string> {
    return Object.fromEntries(this.raw);
  }
}

/** An XML value: text, a nested element list (`[name, value]` pairs, in order), or nothing (omitted). */
export type XmlValue = string | number | boolean | Date | XmlNode[] | null | undefined;
export type XmlNode = [string, XmlValue];

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function xml(nodes: readonly XmlNode[]): string {
  return nodes
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name, value]) => {
      const inner = Array.isArray(value) ? xml(value) : value instanceof Date ? value.toISOString() : escapeXml(String(value));
      return `<${name}>${inner}</${name}>`;
    })
    .join('');
}

/** A list element: `<Tags><Tag>...</Tag><Tag>...</Tag></Tags>`. */
export function xmlList<T>(member: string, items: readonly T[], each: (item: T) => XmlValue): XmlNode[] {
  return items.map((item) => [member, each(item)] as XmlNode);
}

export function responseDocument(action: string, result: XmlNode[] | null, requestId: string): string {
  const body = result === null ? '' : `<${action}Result>${xml(result)}</${action}Result>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${RDS_NAMESPACE}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function errorDocument(type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${RDS_NAMESPACE}"><Error><Type>${type}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
