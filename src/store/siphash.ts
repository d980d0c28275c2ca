/**
 * SipHash (Aumasson and Bernstein, 2012), the keyed hash of dict keys: with a
 * secret random key per process, keys that collide cannot be chosen from
 * outside, which a seeded MurmurHash3 did not ensure (it has multicollisions
 * whatever its seed). SipHash-1-3 is what Redis and Rust use for hash tables.
 *
 * JavaScript has no fast 64-bit integers, so each 64-bit lane is a pair of
 * int32 locals (`…h` the high half, `…l` the low one): an addition carries
 * from the low half into the high one, a rotation by 32 swaps the halves.
 * One compression and one finalization loop serve any number of rounds, so
 * the published SipHash-2-4 vectors check the same code that runs 1-3.
 *
 * @module
 */

/** A 128-bit key as four uint32: k0 low, k0 high, k1 low, k1 high (k0, k1 read little-endian from 16 bytes). */
export type SipKey = Uint32Array;

/** The high half of the last 64-bit result of {@link sipHash} (the low half is returned). */
export let lastHigh = 0;

/**
 * The keyed hash of `length` bytes of `bytes` from 0, as SipHash-c-d.
 *
 * @param bytes the message (its first `length` bytes)
 * @param length how many bytes to hash
 * @param key the 128-bit key
 * @param c compression rounds per 8-byte block (1 for SipHash-1-3)
 * @param d finalization rounds (3 for SipHash-1-3)
 * @returns the low 32 bits of the 64-bit result, unsigned; its high 32 bits are in {@link lastHigh}
 * @example
 * ```ts
 * import { sipHash } from "./siphash.ts";
 * const key = crypto.getRandomValues(new Uint32Array(4));
 * const hash = sipHash(new TextEncoder().encode("key"), 3, key, 1, 3); // SipHash-1-3
 * ```
 */
export function sipHash(bytes: Uint8Array, length: number, key: SipKey, c: number, d: number): number {
  const k0l = key[0] | 0, k0h = key[1] | 0, k1l = key[2] | 0, k1h = key[3] | 0;
  let v0h = k0h ^ 0x736f6d65, v0l = k0l ^ 0x70736575;
  let v1h = k1h ^ 0x646f7261, v1l = k1l ^ 0x6e646f6d;
  let v2h = k0h ^ 0x6c796765, v2l = k0l ^ 0x6e657261;
  let v3h = k1h ^ 0x74656462, v3l = k1l ^ 0x79746573;
  const blocks = length - (length & 7);
  // Phase 0: the 8-byte blocks; 1: the last word (the tail and the length); 2: the finalization.
  for (let i = 0, phase = 0;;) {
    let mh = 0, ml = 0, rounds = c;
    if (phase === 2) {
      v2l ^= 0xff;
      rounds = d;
    } else if (i < blocks) {
      ml = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
      mh = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
      i += 8;
    } else {
      mh = length << 24;
      for (let j = blocks; j < length; j++) {
        if (j - blocks < 4) ml |= bytes[j] << ((j - blocks) * 8);
        else mh |= bytes[j] << ((j - blocks - 4) * 8);
      }
      phase = 1;
    }
    v3h ^= mh;
    v3l ^= ml;
    for (let r = 0; r < rounds; r++) {
      let s: number, t: number;
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      s = (v0l + v1l) | 0;
      v0h = (v0h + v1h + ((s >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
      v0l = s;
      t = (v1h << 13) | (v1l >>> 19);
      v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
      v1h = t ^ v0h;
      t = v0h, v0h = v0l, v0l = t;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      s = (v2l + v3l) | 0;
      v2h = (v2h + v3h + ((s >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
      v2l = s;
      t = (v3h << 16) | (v3l >>> 16);
      v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
      v3h = t ^ v2h;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      s = (v0l + v3l) | 0;
      v0h = (v0h + v3h + ((s >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
      v0l = s;
      t = (v3h << 21) | (v3l >>> 11);
      v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
      v3h = t ^ v0h;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      s = (v2l + v1l) | 0;
      v2h = (v2h + v1h + ((s >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
      v2l = s;
      t = (v1h << 17) | (v1l >>> 15);
      v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
      v1h = t ^ v2h;
      t = v2h, v2h = v2l, v2l = t;
    }
    if (phase === 2) break;
    v0h ^= mh;
    v0l ^= ml;
    if (phase === 1) phase = 2;
  }
  lastHigh = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}
