import { expect, test } from 'vitest';
import { parseStanzaInfo } from '../../lib/providers/pgbackrest/info.ts';
import { readVerification } from '../../lib/providers/pgbackrest/verify.ts';

// pgbackrest verify --output=text --verbose --log-level-console=info, as pgBackRest 2.45 prints it.
const damaged = `P00   INFO: verify command begin 2.45: --stanza=main
P01   INFO: invalid checksum '20261201-215103F/pg_data/base/1/112.gz'
stanza: main
status: error
  archiveId: 15-1, total WAL checked: 10, total valid WAL: 10
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261201-215103F, status: invalid, total files checked: 967, total valid files: 966
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
  backup: 20261201-215103F_20261201-215105D, status: invalid, total files checked: 967, total valid files: 966
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
  backup: 20261202-010000F, status: valid, total files checked: 967, total valid files: 967
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
P00   INFO: verify command end: completed successfully
`;

test('verify: a damaged file of a set the restore reads fails it, named; damage in another set only is noted', () => {
  const diff = readVerification(damaged, ['20261201-215103F_20261201-215105D', '20261201-215103F']);
  expect(diff.ok).toBe(false);
  expect(diff.problems.join()).toContain("invalid checksum '20261201-215103F/pg_data/base/1/112.gz'");

  const newer = readVerification(damaged, ['20261202-010000F']);
  expect(newer.ok).toBe(true);
  expect(newer.summary).toBe('967 files of backup 20261202-010000F and 10 WAL files verified by pgbackrest verify (checksums); other backups invalid: 20261201-215103F, 20261201-215103F_20261201-215105D');
});

test('verify: an invalid WAL file fails every restore, named', () => {
  const text = `P01   INFO: invalid result 15-1/0000000100000000/00000001000000000000000E-9a847cef9502b2aec22e2c9eabdba458fc786c9f.gz: [29] unexpected eof in compressed data
stanza: main
status: error
  archiveId: 15-1, total WAL checked: 10, total valid WAL: 9
    other: 1
  backup: 20261201-215103F, status: valid, total files checked: 967, total valid files: 967
`;
  const result = readVerification(text, ['20261201-215103F']);
  expect(result.ok).toBe(false);
  expect(result.problems).toEqual([expect.stringMatching(/^archive: 1 of 10 WAL files invalid \(invalid result 15-1\/.*00000001000000000000000E-/)]);
});

test('info: a repository whose info files do not decrypt is said to have a wrong passphrase, without the bytes pgBackRest quotes', () => {
  const json = `[{"archive":[],"backup":[],"cipher":"aes-256-cbc","db":[],"name":"main","repo":[{"cipher":"aes-256-cbc","key":1,"status":{"code":99,"message":"[FormatError] unable to load info file '/r/backup/main/backup.info' or '/r/backup/main/backup.info.copy':\nFormatError: key/value found outside of section at line 1: \u0013\u0005\u001bP\u0001 garbage"}}],"status":{"code":99,"message":"other"}}]`
    .replace('\\u0013\\u0005\\u001b', '\u0013\u0005\u001b')
    .replace('\\u0001', '\u0001');
  expect(() => parseStanzaInfo(json, { stanza: 'main', repo: 1 })).toThrow(
    "pgBackRest says stanza main (repo1): [FormatError] unable to load info file '/r/backup/main/backup.info' or '/r/backup/main/backup.info.copy' (status 99); the repository is encrypted (aes-256-cbc) and its info files do not decrypt: the cipher passphrase is most likely wrong",
  );
});

test('info: an unknown stanza is named with where to look', () => {
  expect(() => parseStanzaInfo('[]', { stanza: 'mian', repo: 1, config: '/etc/pgbackrest/pgbackrest.conf' })).toThrow(
    'pgbackrest info does not know stanza mian (repo1, config /etc/pgbackrest/pgbackrest.conf): check provider.stanza and provider.config',
  );
});
