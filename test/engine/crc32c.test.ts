import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { CRC32C_INIT, crc32cFinish, crc32cUpdate } from '../../lib/providers/local/wal/crc32c.ts';

/** The textbook byte-at-a-time CRC-32C, as the reference the fast version must agree with. */
function reference(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = crc >>> 0;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
}

describe('CRC-32C of WAL records', () => {
  test('gives the standard check value', () => {
    // Prepare / Act / Assess: CRC-32C("123456789") = 0xE3069283 (RFC 3720, appendix B.4).
    expect(crc32cFinish(crc32cUpdate(CRC32C_INIT, Buffer.from('123456789')))).toBe(0xe3069283);
  });

  test('agrees with the byte-at-a-time reference at every alignment, length and starting value', () => {
    const memory = randomBytes(4096 + 16);
    for (const shift of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const bytes = memory.subarray(shift); // a view that starts off a 4-byte boundary of its memory
      for (const [start, end] of [[0, 0], [0, 1], [1, 8], [3, 17], [5, 64], [7, 1000], [0, 4096]] as const) {
        for (const seed of [CRC32C_INIT, 0, 0x12345678]) {
          expect(crc32cFinish(crc32cUpdate(seed, bytes, start, end))).toBe(crc32cFinish(reference(seed, bytes, start, end)));
        }
      }
    }
  });

  test('chains: a record body then its header, as Postgres computes a record CRC', () => {
    const record = randomBytes(300);
    const chained = crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_INIT, record, 24, 300), record, 0, 20));
    expect(chained).toBe(crc32cFinish(reference(reference(CRC32C_INIT, record, 24, 300), record, 0, 20)));
  });
});
