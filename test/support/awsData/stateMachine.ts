import { createRequire } from 'node:module';

type AslValidator = (definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }) => { isValid: boolean; errorsText: (separator?: string) => string };

// asl-validator is CommonJS without types.
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** What `asl-validator` (JSON schemas of the Amazon States Language, paths, ARNs, transitions) finds wrong with a definition. */
export function aslProblems(definition: unknown): string[] {
  // It writes a default QueryLanguage into the states it reads: give it a copy.
  const { isValid, errorsText } = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
  return isValid ? [] : errorsText('\n').split('\n');
}
