import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canonicalJson, keyIdOf, signatureStateOf, signReport, signWithConfiguredKey, SIGNING_KEY_ENV, SIGNING_KEY_FILE_ENV } from '../../lib/evidence/signing.ts';
import { writeReport } from '../../lib/report/store.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { history } from './history.ts';

const pem = (key: KeyObject, type: 'pkcs8' | 'spki') => key.export({ type, format: 'pem' }) as string;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { via: 'source', env });
}

const ours = generateKeyPairSync('ed25519');
const theirs = generateKeyPairSync('ed25519');
let dir: string;
let files: { intact: string; altered: string; unsigned: string; otherKey: string; whitespace: string };
let publicKeyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-signing-'));
  const [first, second, third, fourth] = history({ databases: ['app'], days: 4, lastDay: '2026-11-30', skipRate: 0, failRate: 0, errorRate: 0 }).map((entry) => entry.report);
  publicKeyFile = join(dir, 'signing.pub.pem');
  await writeFile(publicKeyFile, pem(ours.publicKey, 'spki'));
  const keyFile = join(dir, 'signing.pem');
  await writeFile(keyFile, pem(ours.privateKey, 'pkcs8'));

  // Signed where reports are written: writeReport with the key file in the environment.
  process.env[SIGNING_KEY_FILE_ENV] = keyFile;
  try {
    const intact = await writeReport(join(dir, 'signed'), first!);
    const altered = await writeReport(join(dir, 'altered'), second!);
    const whitespace = await writeReport(join(dir, 'whitespace'), fourth!);
    files = { intact, altered, whitespace, unsigned: join(dir, 'unsigned.json'), otherKey: join(dir, 'other-key.json') };
    // One byte of content changed: the claimed RPO's first digit.
    const text = await readFile(altered, 'utf8');
    const at = text.indexOf('"claimedSeconds": ') + '"claimedSeconds": '.length;
    await writeFile(altered, `${text.slice(0, at)}${text[at] === '9' ? '8' : '9'}${text.slice(at + 1)}`);
    // Indentation is not content: the canonical JSON, hence the signature, does not see it.
    await writeFile(whitespace, (await readFile(whitespace, 'utf8')).replace(/\n {2}"/g, '\n      "'));
  } finally {
    delete process.env[SIGNING_KEY_FILE_ENV];
  }
  const { signature: _none, ...unsigned } = JSON.parse(await readFile(files.intact, 'utf8')) as DrillReport;
  await writeFile(files.unsigned, JSON.stringify(unsigned, null, 2));
  await writeFile(files.otherKey, JSON.stringify(signReport(third!, theirs.privateKey), null, 2));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('canonical JSON', () => {
  test('sorts keys at every level, drops undefined members, keeps array order and JSON number forms', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined, x: 'é"' }], c: null }, e: 1e21, f: 0.1 })).toBe('{"a":{"c":null,"d":[3,{"x":"é\\"","z":1}]},"b":1,"e":1e+21,"f":0.1}');
  });

  test('the same report with its keys in another order signs to the same bytes', () => {
    const report = history({ databases: ['app'], days: 1, lastDay: '2026-11-30' })[0]!.report;
    const reordered = Object.fromEntries(Object.entries(report).reverse()) as unknown as DrillReport;
    expect(signReport(reordered, ours.privateKey).signature).toEqual(signReport(report, ours.privateKey).signature);
  });
});

describe('signatures', () => {
  test('writeReport signs with the key in the environment; the file verifies intact', async () => {
    const report = JSON.parse(await readFile(files.intact, 'utf8')) as DrillReport;
    expect(report.signature).toMatchObject({ algorithm: 'Ed25519', keyId: keyIdOf(ours.publicKey), value: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) });
    expect(signatureStateOf(report, ours.publicKey)).toBe('intact');
  });

  test('one byte of content altered, the signature removed, another key, a changed key id', async () => {
    const read = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as DrillReport;
    const intact = await read(files.intact);
    expect(signatureStateOf(await read(files.altered), ours.publicKey)).toBe('altered');
    expect(signatureStateOf(await read(files.unsigned), ours.publicKey)).toBe('unsigned');
    expect(signatureStateOf(await read(files.otherKey), ours.publicKey)).toBe('other-key');
    expect(signatureStateOf(intact, theirs.publicKey)).toBe('other-key');
    expect(signatureStateOf({ ...intact, signature: { ...intact.signature!, value: Buffer.alloc(64).toString('base64') } }, ours.publicKey)).toBe('altered');
    expect(signatureStateOf({ ...intact, status: 'failed' }, ours.publicKey)).toBe('altered');
    expect(signatureStateOf(intact, undefined)).toBe('unchecked');
  });

  test('the key as PEM text in RESTORE_DRILL_SIGNING_KEY; no key: unchanged; a missing key file is named', async () => {
    const report = history({ databases: ['app'], days: 1, lastDay: '2026-11-30' })[0]!.report;

    const signed = await signWithConfiguredKey(report, { [SIGNING_KEY_ENV]: pem(ours.privateKey, 'pkcs8') });
    const unsigned = await signWithConfiguredKey(report, {});
    const missing = await signWithConfiguredKey(report, { [SIGNING_KEY_FILE_ENV]: join(dir, 'no-such.pem') }).catch((error: Error) => error.message);

    expect(signatureStateOf(signed, ours.publicKey)).toBe('intact');
    expect(unsigned).toBe(report);
    expect(missing).toBe(`cannot read the signing key file ${join(dir, 'no-such.pem')} (RESTORE_DRILL_SIGNING_KEY_FILE): ENOENT`);
  });

  test('re-signing replaces the old signature (a report is saved again after delivery)', () => {
    const report = history({ databases: ['app'], days: 1, lastDay: '2026-11-30' })[0]!.report;
    const once = signReport(report, theirs.privateKey);
    const again = signReport({ ...once, delivery: { slack: { ok: true, to: 'slack', attempts: 1, at: once.finishedAt } } }, ours.privateKey);
    expect(signatureStateOf(again, ours.publicKey)).toBe('intact');
  });
});

describe('restore-drill verify-report', () => {
  test('says which reports are intact, altered, unsigned or signed by another key; exit 1 unless all are intact', async () => {
    const result = await cli(['verify-report', files.intact, files.altered, files.unsigned, files.otherKey, files.whitespace, '--public-key', publicKeyFile]);

    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^intact\\s+${files.intact} \\(app, `));
    expect(lines[1]).toMatch(new RegExp(`^ALTERED\\s+${files.altered}`));
    expect(lines[2]).toMatch(new RegExp(`^unsigned\\s+${files.unsigned}`));
    expect(lines[3]).toMatch(new RegExp(`^signed by another key\\s+${files.otherKey}.*signed by key ${keyIdOf(theirs.publicKey)}, not ${keyIdOf(ours.publicKey)}`));
    expect(lines[4]).toMatch(new RegExp(`^intact\\s+${files.whitespace}`));
    expect(lines[5]).toBe(`2 of 5 intact (key ${keyIdOf(ours.publicKey)})`);
  });

  test('all intact: exit 0; --json lists each state', async () => {
    const result = await cli(['verify-report', files.intact, '--public-key', publicKeyFile, '--json']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ keyId: keyIdOf(ours.publicKey), results: [{ file: files.intact, state: 'intact', database: 'app', startedAt: expect.any(String) }] });
  });

  test('the wrong key verifies nothing; a key that is not Ed25519 is refused with how to make one (exit 2)', async () => {
    const wrong = join(dir, 'theirs.pub.pem');
    await writeFile(wrong, pem(theirs.publicKey, 'spki'));
    const rsa = join(dir, 'rsa.pub.pem');
    await writeFile(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);

    const withWrongKey = await cli(['verify-report', files.intact, '--public-key', wrong]);
    const withRsa = await cli(['verify-report', files.intact, '--public-key', rsa]);

    expect(withWrongKey.code).toBe(1);
    expect(withWrongKey.stdout).toMatch(/^signed by another key/);
    expect(withRsa.code).toBe(2);
    expect(withRsa.stderr).toContain('is a rsa key; reports are signed with Ed25519 (openssl genpkey -algorithm ed25519');
  });
});
