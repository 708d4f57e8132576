/**
 * Neon's published OpenAPI v2 document, as shipped inside the installed @neondatabase/api-client, turned
 * into checks: every request the emulator receives and every answer it gives is held to it. The
 * document, not our code, says what a valid call and a valid answer are.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Json;
}

interface Operation {
  id: string;
  method: string;
  /** The path template, e.g. /projects/{project_id}/branches. */
  path: string;
  parameters: Parameter[];
  /** The JSON pointer of the request body's schema, when the operation takes one. */
  body?: string;
  bodyRequired: boolean;
  /** Status code (or `default`) to the JSON pointer of its schema. */
  responses: Map<string, string | undefined>;
}

export interface SpecProblem {
  operation: string;
  kind: 'request' | 'response';
  status?: number;
  problems: string[];
}

const require = createRequire(import.meta.url);
const SPEC_ID = 'neon-public-v2';

/** Where the installed client keeps the document it was generated from. */
export function neonSpecFile(): string {
  return join(dirname(require.resolve('@neondatabase/api-client/package.json')), 'public-v2-for-users.gen.yaml');
}

const pointer = (...parts: string[]) => `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

export class NeonSpec {
  readonly operations = new Map<string, Operation>();
  readonly version: string;
  private readonly doc: Json;
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(text = readFileSync(neonSpecFile(), 'utf8')) {
    this.doc = parse(text) as Json;
    this.version = String((this.doc.info as Json | undefined)?.version ?? '');
    // OpenAPI 3.0 schemas are JSON Schema with extras (nullable, discriminator, example, x-...): ajv knows
    // nullable and discriminator, and is told to ignore the rest.
    this.ajv = new Ajv({ strict: false, allErrors: true, discriminator: true, validateFormats: true });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
    addFormats(this.ajv);
    // Formats the document names that are not JSON Schema's: numeric widths are checked as numbers.
    for (const format of ['uint64', 'int', 'region']) this.ajv.addFormat(format, true);
    this.ajv.addSchema(this.doc, SPEC_ID);
    const paths = (this.doc.paths ?? {}) as Record<string, Json>;
    for (const [path, item] of Object.entries(paths)) {
      const shared = (item.parameters ?? []) as Json[];
      for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
        const op = item[method] as Json | undefined;
        if (!op || typeof op.operationId !== 'string') continue;
        const parameters = [...shared, ...((op.parameters ?? []) as Json[])].map((p) => this.deref(p) as unknown as Parameter);
        const requestBody = op.requestBody ? (this.deref(op.requestBody as Json) as Json) : undefined;
        const hasJsonBody = Boolean((requestBody?.content as Json | undefined)?.['application/json']);
        const responses = new Map<string, string | undefined>();
        for (const [status, response] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
          const [resolved, at] = this.derefWithPointer(response, pointer('paths', path, method, 'responses', status));
          const json = (resolved.content as Json | undefined)?.['application/json'] as Json | undefined;
          responses.set(String(status), json?.schema ? `${at}/content/application~1json/schema` : undefined);
        }
        this.operations.set(op.operationId, {
          id: op.operationId,
          method: method.toUpperCase(),
          path,
          parameters,
          ...(hasJsonBody ? { body: pointer('paths', path, method, 'requestBody', 'content', 'application/json', 'schema') } : {}),
          bodyRequired: requestBody?.required === true,
          responses,
        });
      }
    }
  }

  /** What is wrong with a request to this operation (empty when it is valid). */
  checkRequest(operationId: string, request: { method: string; params: Record<string, string>; query: Record<string, string>; body: unknown }): string[] {
    const op = this.operations.get(operationId);
    if (!op) return [`${request.method} is not an operation of Neon's API (${operationId})`];
    const problems: string[] = [];
    if (request.method !== op.method) problems.push(`${operationId} is ${op.method}, not ${request.method}`);
    const known = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name));
    for (const name of Object.keys(request.query)) if (!known.has(name)) problems.push(`query parameter "${name}" is not one of ${operationId}'s (${[...known].join(', ') || 'none'})`);
    for (const parameter of op.parameters) {
      if (parameter.in !== 'path' && parameter.in !== 'query') continue;
      const value = parameter.in === 'path' ? request.params[parameter.name] : request.query[parameter.name];
      if (value === undefined) {
        if (parameter.required) problems.push(`${parameter.in} parameter "${parameter.name}" is required`);
        continue;
      }
      if (!parameter.schema) continue;
      const schema = this.deref(parameter.schema);
      const validate = this.ajv.compile(schema);
      if (!validate(coerce(value, schema))) problems.push(...describe(validate, `${parameter.in} parameter "${parameter.name}" (${JSON.stringify(value)})`));
    }
    if (request.body === undefined || request.body === '') {
      if (op.bodyRequired) problems.push(`${operationId} needs a JSON body`);
    } else if (!op.body) {
      problems.push(`${operationId} takes no body`);
    } else {
      problems.push(...this.against(op.body, request.body, 'body'));
    }
    return problems;
  }

  /** What is wrong with an answer of this operation (empty when it is what the document promises). */
  checkResponse(operationId: string, status: number, body: unknown): string[] {
    const op = this.operations.get(operationId);
    if (!op) return [`${operationId} is not an operation of Neon's API`];
    const key = op.responses.has(String(status)) ? String(status) : op.responses.has('default') ? 'default' : undefined;
    if (!key) return [`${operationId} does not answer ${status} (it answers ${[...op.responses.keys()].join(', ')})`];
    const at = op.responses.get(key);
    if (!at) return body === undefined || (typeof body === 'object' && body !== null && Object.keys(body).length === 0) ? [] : [`${operationId}'s ${key} answer has no body`];
    return this.against(at, body, `${status} answer`);
  }

  private against(at: string, value: unknown, label: string): string[] {
    let validate = this.compiled.get(at);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${SPEC_ID}${at}` });
      this.compiled.set(at, validate);
    }
    const problems = validate(value) ? [] : describe(validate, label);
    // The document never forbids extra members, but Neon ignores what it does not know and never sends
    // what it does not document: a member outside the document is a typo on one side or the other.
    problems.push(...this.unknownMembers(this.resolvePointer(at), value, label));
    return problems;
  }

  /** Members of objects that no property of the schema (through $ref and allOf) names. */
  private unknownMembers(schema: Json | undefined, value: unknown, at: string): string[] {
    if (!schema || value === null || typeof value !== 'object') return [];
    const resolved = this.deref(schema);
    if (Array.isArray(value)) {
      const items = resolved.items as Json | undefined;
      return items ? value.flatMap((item, i) => this.unknownMembers(items, item, `${at}[${i}]`)) : [];
    }
    if (resolved.oneOf || resolved.anyOf) return [];
    const properties = new Map<string, Json>();
    let open = resolved.additionalProperties !== undefined && resolved.additionalProperties !== false;
    const gather = (s: Json) => {
      const r = this.deref(s);
      if (r.additionalProperties !== undefined && r.additionalProperties !== false) open = true;
      if (r.oneOf || r.anyOf) open = true;
      for (const [name, property] of Object.entries((r.properties ?? {}) as Record<string, Json>)) properties.set(name, property);
      for (const part of (r.allOf ?? []) as Json[]) gather(part);
    };
    gather(resolved);
    if (open && properties.size === 0) {
      const additional = resolved.additionalProperties;
      return typeof additional === 'object' && additional !== null
        ? Object.entries(value).flatMap(([name, member]) => this.unknownMembers(additional as Json, member, `${at}.${name}`))
        : [];
    }
    const problems: string[] = [];
    for (const [name, member] of Object.entries(value)) {
      const property = properties.get(name);
      if (!property) {
        if (!open) problems.push(`${at}.${name} is not a member the document names`);
        continue;
      }
      problems.push(...this.unknownMembers(property, member, `${at}.${name}`));
    }
    return problems;
  }

  private resolvePointer(at: string): Json | undefined {
    let node: unknown = this.doc;
    for (const raw of at.replace(/^#\//, '').split('/')) {
      const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = (node as Json | undefined)?.[part];
    }
    return node as Json | undefined;
  }

  private deref(node: Json): Json {
    return this.derefWithPointer(node, '')[0];
  }

  private derefWithPointer(node: Json, at: string): [Json, string] {
    let current = node;
    let where = at;
    for (let hops = 0; typeof current.$ref === 'string' && hops < 20; hops++) {
      where = current.$ref as string;
      current = this.resolvePointer(where) ?? {};
    }
    return [current, where];
  }
}

function coerce(value: string, schema: Json): unknown {
  if (schema.type === 'integer' || schema.type === 'number') return value.trim() === '' ? value : Number(value);
  if (schema.type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  return value;
}

function describe(validate: ValidateFunction, label: string): string[] {
  return (validate.errors ?? []).map((e) => `${label}${e.instancePath ? ` ${e.instancePath}` : ''} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
}

let shared: NeonSpec | undefined;

/** The document, parsed once per process. */
export function neonSpec(): NeonSpec {
  shared ??= new NeonSpec();
  return shared;
}
