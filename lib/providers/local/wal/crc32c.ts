/**
 * CRC-32C (Castagnoli), as Postgres uses it for WAL records. Slicing-by-8 over aligned 32-bit words:
 * finding the archive's last transaction checks tens of MB of records before every restore, and
 * this runs about twice as fast as the byte-at-a-time table (about 1 GB/s against 0.4 GB/s).
 */
const POLYNOMIAL = 0x82f63b78;

/** TABLES[k * 256 + n]: the CRC of byte n followed by k zero bytes (k = 0 is the classic table). */
const TABLES = (() => {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const previous = tables[(k - 1) * 256 + n]!;
      tables[k * 256 + n] = (tables[previous & 0xff]! ^ (previous >>> 8)) >>> 0;
    }
  }
  return tables;
})();

export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLES;
  let c = crc;
  let i = start;
  // Bytes up to a 4-byte boundary of the underlying memory, so that the words below can be read as a Uint32Array.
  while (i < end && ((bytes.byteOffset + i) & 3) !== 0) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  const pairs = (end - i) >>> 3;
  if (pairs > 0) {
    // Little-endian words, as the byte order above; every platform Node runs on is little-endian.
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, pairs * 2);
    for (let w = 0; w < words.length; w += 2) {
      const low = c ^ words[w]!;
      const high = words[w + 1]!;
      c =
        t[1792 + (low & 0xff)]! ^ t[1536 + ((low >>> 8) & 0xff)]! ^ t[1280 + ((low >>> 16) & 0xff)]! ^ t[1024 + (low >>> 24)]! ^
        t[768 + (high & 0xff)]! ^ t[512 + ((high >>> 8) & 0xff)]! ^ t[256 + ((high >>> 16) & 0xff)]! ^ t[high >>> 24]!;
    }
    i += pairs * 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return c;
}

export const CRC32C_INIT = 0xffffffff;

export function crc32cFinish(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}
