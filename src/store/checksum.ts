/**
 * CRC-32 (IEEE), the checksum of snapshot files and journal records.
 *
 * @module
 */

const TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * Computes the CRC-32 of some bytes, or continues one: the CRC-32 of `a`
 * then `b` is `crc32(b, crc32(a))`, so a large body can be checksummed a
 * slice at a time.
 *
 * @param bytes the bytes
 * @param previous the CRC-32 of the bytes before these (default: none)
 * @returns the checksum as an unsigned 32-bit integer
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = previous ^ -1;
  for (let i = 0; i < bytes.length; i++) {
    c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ -1) >>> 0;
}
