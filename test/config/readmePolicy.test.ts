import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot } from '../support/cli.ts';
import { CLI_POLICY_FILE } from '../support/iam/cli.ts';

test("the README prints the CLI's IAM policy the tests run under, as it is", () => {
  // Prepare
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf("### The CLI's IAM policy"));

  // Act
  const printed = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];

  // Assess
  expect(printed, "README.md has no JSON block under \"### The CLI's IAM policy\"").toBeDefined();
  expect(JSON.parse(printed!)).toEqual(JSON.parse(readFileSync(CLI_POLICY_FILE, 'utf8')));
});
