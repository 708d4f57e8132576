import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { repoRoot } from '../cli.ts';

/** The vendored copies (see its SOURCE.md): CI has no ../shared next to the clone. */
export const VENDORED_SCHEMAS = join(repoRoot, 'test', 'fixtures', 'cfn-schemas');

export type PolicyKind = 'identity' | 'resource' | 'trust';

// Provider-schema metadata and cfn-lint's own pointers: they describe the resource, not what a template may hold.
const ANNOTATIONS = [
  'cfnLint',
  'tagging',
  'typeName',
  'sourceUrl',
  'primaryIdentifier',
  'additionalIdentifiers',
  'readOnlyProperties',
  'writeOnlyProperties',
  'createOnlyProperties',
  'conditionalCreateOnlyProperties',
  'deprecatedProperties',
  'propertyTransform',
  'taggable',
  'insertionOrder',
  'handlers',
  'replacementStrategy',
  'relationshipRef',
  'arrayType',
];

/**
 * Formats the schemas name: the type's own identifiers, as AWS writes them. A stand-in value for a
 * Ref or GetAtt must pass them too, so a made-up ARN of the wrong shape fails here, not in AWS.
 */
const FORMATS: Record<string, RegExp | ((value: string) => boolean)> = {
  'AWS::EC2::SecurityGroup.Id': /^sg-([a-f0-9]{8}|[a-f0-9]{17})$/,
  'AWS::EC2::SecurityGroup.Ids': /^sg-([a-f0-9]{8}|[a-f0-9]{17})$/,
  'AWS::EC2::SecurityGroup.Name': /^[\w .:/()#,@[\]+=&;{}!$*-]{1,255}$/,
  'AWS::EC2::VPC.Id': /^vpc-([a-f0-9]{8}|[a-f0-9]{17})$/,
  'AWS::EC2::Subnet.Id': /^subnet-([a-f0-9]{8}|[a-f0-9]{17})$/,
  'AWS::EC2::Subnet.Ids': /^subnet-([a-f0-9]{8}|[a-f0-9]{17})$/,
  'AWS::EC2::Image.Id': /^ami-([a-f0-9]{8}|[a-f0-9]{17})$/,
  'AWS::IAM::Role.Arn': /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
  'AWS::Lambda::Function.Arn': /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]{1,64}(:(\$LATEST|[\w-]+))?$/,
  'AWS::SNS::Topic.Arn': /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?$/,
  'AWS::SQS::Queue.Arn': /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]{1,80}(\.fifo)?$/,
  'AWS::S3::Bucket.Name': /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  'AWS::KMS::Key.Arn': /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/,
  'AWS::KMS::Key.Id': /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:.+|alias\/.+)$/,
  'AWS::KMS::Alias.AliasName': /^alias\/[\w/-]{1,250}$/,
  'AWS::Logs::LogGroup.Name': /^[.\-_/#A-Za-z0-9]{1,512}$/,
  'date-time': (value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value)),
  timestamp: (value) => !Number.isNaN(Date.parse(value)),
  int64: /^-?\d{1,19}$/,
  uri: (value) => URL.canParse(value),
  'ipv4-network': /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/,
  'ipv6-network': /^[0-9a-fA-F:]+\/\d{1,3}$/,
  json: (value) => {
    try {
      JSON.parse(value);
      return true;
    } catch {
      return false;
    }
  },
};

type KeywordErrors = { errors?: Partial<ErrorObject>[] };

/** cfn-lint's keywords that constrain (the rest are annotations), implemented as cfn-lint reads them. */
function addCfnLintKeywords(ajv: Ajv): void {
  for (const keyword of ANNOTATIONS) ajv.addKeyword({ keyword });
  const fail = (validate: KeywordErrors, keyword: string, message: string, params: Record<string, unknown>) => {
    validate.errors = [{ keyword, message, params }];
    return false;
  };
  // Exactly one of the listed properties.
  ajv.addKeyword({
    keyword: 'requiredXor',
    type: 'object',
    schemaType: 'array',
    errors: true,
    validate: function requiredXor(this: unknown, names: string[], data: Record<string, unknown>) {
      const present = names.filter((name) => name in data);
      if (present.length === 1) return true;
      return fail(requiredXor as KeywordErrors, 'requiredXor', `must set exactly one of ${names.join(', ')}; it sets ${present.length ? present.join(' and ') : 'none'}`, { names, present });
    },
  });
  // When the key is set, none of the listed properties may be.
  ajv.addKeyword({
    keyword: 'dependentExcluded',
    type: 'object',
    schemaType: 'object',
    errors: true,
    validate: function dependentExcluded(schema: Record<string, string[]>, data: Record<string, unknown>) {
      for (const [key, excluded] of Object.entries(schema)) {
        if (!(key in data)) continue;
        const clash = excluded.filter((name) => name in data);
        if (clash.length) return fail(dependentExcluded as KeywordErrors, 'dependentExcluded', `sets ${key}, which excludes ${clash.join(', ')}`, { key, clash });
      }
      return true;
    },
  });
  // Draft 2019-09's keyword, which the draft-07 schemas use anyway.
  ajv.addKeyword({
    keyword: 'dependentRequired',
    type: 'object',
    schemaType: 'object',
    errors: true,
    validate: function dependentRequired(schema: Record<string, string[]>, data: Record<string, unknown>) {
      for (const [key, needed] of Object.entries(schema)) {
        const missing = key in data ? needed.filter((name) => !(name in data)) : [];
        if (missing.length) return fail(dependentRequired as KeywordErrors, 'dependentRequired', `sets ${key}, which also needs ${missing.join(', ')}`, { key, missing });
      }
      return true;
    },
  });
  // At most this many distinct items (CloudWatch: five actions per alarm state).
  ajv.addKeyword({
    keyword: 'maxUniqueItems',
    type: 'array',
    schemaType: 'number',
    errors: true,
    validate: function maxUniqueItems(max: number, data: unknown[]) {
      const distinct = new Set(data.map((item) => JSON.stringify(item))).size;
      return distinct <= max || fail(maxUniqueItems as KeywordErrors, 'maxUniqueItems', `must have at most ${max} distinct items; it has ${distinct}`, { max, distinct });
    },
  });
  // No two items share a value of these keys (IAM statements' Sid).
  ajv.addKeyword({
    keyword: 'uniqueKeys',
    type: 'array',
    schemaType: 'array',
    errors: true,
    validate: function uniqueKeys(keys: string[], data: unknown[]) {
      for (const key of keys) {
        const values = data.flatMap((item) => (item && typeof item === 'object' && key in item ? [JSON.stringify((item as Record<string, unknown>)[key])] : []));
        const twice = values.find((value, index) => values.indexOf(value) !== index);
        if (twice) return fail(uniqueKeys as KeywordErrors, 'uniqueKeys', `has two items with ${key} ${twice}`, { key, value: twice });
      }
      return true;
    },
  });
}

/** cfn-lint's patterns are Python's: \Z and \A are the ends of the text, which JavaScript writes $ and ^. */
const pythonRegExp = Object.assign((pattern: string, flags: string): RegExp => new RegExp(pattern.replace(/\\Z/g, '$').replace(/\\A/g, '^'), flags), { code: 'pythonRegExp' });

/** The id a type's schema is registered under in ajv. */
const schemaId = (type: string) => `cfn-${type.toLowerCase().replace(/::/g, '-')}`;

function readJson(path: string): AnySchemaObject {
  return JSON.parse(readFileSync(path, 'utf8')) as AnySchemaObject;
}

/** One ajv message: where, what, and what would be valid. */
export function describeAjvError(error: ErrorObject): string {
  const at = error.instancePath || '(top level)';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at}: unknown property ${String(params.additionalProperty)}`;
    case 'enum':
      return `${at}: ${error.message}: ${JSON.stringify(params.allowedValues)}`;
    case 'pattern':
      return `${at}: must match ${String(params.pattern)}`;
    case 'format':
      return `${at}: must be a ${String(params.format)}`;
    default:
      return `${at}: ${error.message ?? error.keyword}`;
  }
}

/**
 * The vendored CloudFormation resource provider schemas and IAM policy schemas, compiled with ajv
 * (draft-07) and cfn-lint's keywords.
 */
export class CfnSchemas {
  private readonly ajv: Ajv;
  private readonly files: Record<string, string>;
  private readonly schemas = new Map<string, AnySchemaObject>();
  private readonly compiled = new Map<string, ValidateFunction>();
  readonly dir: string;

  constructor(dir: string = VENDORED_SCHEMAS) {
    this.dir = dir;
    this.ajv = new Ajv({
      allErrors: true,
      // Unknown keywords still fail to compile; these schemas leave out `type` and name undeclared required properties.
      strict: true,
      strictTypes: false,
      strictRequired: false,
      allowMatchingProperties: true,
      unicodeRegExp: false,
      code: { regExp: pythonRegExp },
    });
    addCfnLintKeywords(this.ajv);
    for (const [name, format] of Object.entries(FORMATS)) {
      this.ajv.addFormat(name, typeof format === 'function' ? { type: 'string', validate: format } : { type: 'string', validate: format });
    }
    this.files = readJson(join(dir, 'types.json')) as Record<string, string>;
    for (const file of readdirSync(join(dir, 'other', 'iam'))) this.ajv.addSchema(readJson(join(dir, 'other', 'iam', file)));
  }

  types(): string[] {
    return Object.keys(this.files);
  }

  has(type: string): boolean {
    return type in this.files;
  }

  /** The provider schema of a type (its `$schema` names the provider meta-schema, which describes the document, not Properties). */
  schema(type: string): AnySchemaObject {
    let schema = this.schemas.get(type);
    if (!schema) {
      const file = this.files[type];
      if (!file) {
        throw new Error(
          `${type} has no vendored CloudFormation schema: copy its file (see ../shared/cfn-schemas/types.json) to ${join(this.dir, 'resources')}, and list it in types.json and SOURCE.md`,
        );
      }
      const { $schema: _meta, ...rest } = readJson(join(this.dir, 'resources', file));
      schema = { ...rest, $id: schemaId(type) };
      this.schemas.set(type, schema);
      this.ajv.addSchema(schema);
    }
    return schema;
  }

  private validator(ref: string): ValidateFunction {
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.getSchema(ref) ?? this.ajv.compile({ $ref: ref });
      this.compiled.set(ref, validate);
    }
    return validate;
  }

  private problems(ref: string, value: unknown): string[] {
    const validate = this.validator(ref);
    return validate(value) ? [] : (validate.errors ?? []).map(describeAjvError);
  }

  /** Every problem of a resource's Properties (intrinsics resolved), including read-only properties set in the template. */
  propertiesProblems(type: string, properties: Record<string, unknown>): string[] {
    const schema = this.schema(type);
    const readOnly = ((schema.readOnlyProperties as string[] | undefined) ?? []).map((pointer) => pointer.split('/')).filter((parts) => parts.length === 3).map((parts) => parts[2]!);
    return [
      ...this.problems(schemaId(type), properties),
      ...readOnly.filter((name) => name in properties).map((name) => `/${name}: is read-only (CloudFormation sets it; a template may not)`),
    ];
  }

  /** A stand-in value of a Ref or GetAtt against the schema of that property (a read-only one for most attributes). */
  attributeProblems(type: string, attribute: string, value: unknown): string[] {
    const schema = this.schema(type);
    if (!(schema.properties as Record<string, unknown> | undefined)?.[attribute]) return [];
    return this.problems(`${schemaId(type)}#/properties/${attribute}`, value);
  }

  policyProblems(kind: PolicyKind, document: unknown): string[] {
    return this.problems(kind, document);
  }
}
