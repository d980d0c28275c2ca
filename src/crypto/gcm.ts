/**
 * AES-256-GCM for small records, assembled from the runtime's AES block
 * cipher (its key expanded once per connection direction) and GHASH in
 * TypeScript: a `node:crypto` cipher object made per record costs ~8 µs in
 * Deno and ~6 µs in Node, several times a whole small record's work.
 *
 * The bytes are those of NIST SP 800-38D with a 96-bit IV and a 128-bit tag,
 * no additional data, exactly what `node:crypto`'s `aes-256-gcm` and Web
 * Crypto's AES-GCM give (tests hold the three byte for byte), for the IVs
 * records use (8 zero bytes, then the record's number). The counter blocks
 * `IV || 1` (the tag mask), `IV || 2`, … of the next few records are
 * encrypted in one call;
 * GHASH uses Shoup's 4-bit tables (as OpenSSL's portable `gcm_gmult_4bit`):
 * its table lookups are indexed by data, which a process sharing this CPU's
 * caches could in principle time; records larger than {@link SMALL_RECORD}
 * take the runtime's own AES-GCM. The tag is compared in constant time, and
 * nothing is decrypted before it matched.
 *
 * @module
 */

/** Largest plaintext sealed or opened here; larger ones are cheaper through the runtime's AES-GCM. */
export const SMALL_RECORD = 256;

const TAG_SIZE = 16;

/** Blocks made ahead for each record: the tag mask and 128 bytes of keystream (most requests and replies). */
const AHEAD_BLOCKS = 9;
/** Most records whose blocks are made ahead at once. */
const AHEAD_RECORDS = 32;

/** Encrypts whole 16-byte blocks under one key (AES-256-ECB, no padding). */
export type BlockCipher = (blocks: Uint8Array) => Uint8Array;

// Reduction constants of the 4-bit method, for the top 16 bits of the result.
const REM_4BIT = Int32Array.from([
  0x0000,
  0x1c20,
  0x3840,
  0x2460,
  0x7080,
  0x6ca0,
  0x48c0,
  0x54e0,
  0xe100,
  0xfd20,
  0xd940,
  0xc560,
  0x9180,
  0x8da0,
  0xa9c0,
  0xb5e0,
], (x) => x << 16);

/** AES-256-GCM of small records under one key. */
export class SmallGcm {
  readonly #blocks: BlockCipher;
  /** The 16 multiples of H, four 32-bit words each (most significant first). */
  readonly #table = new Int32Array(64);
  readonly #counters = new Uint8Array(16 * Math.max(Math.ceil(SMALL_RECORD / 16) + 1, AHEAD_RECORDS * AHEAD_BLOCKS));
  /** Blocks made ahead: {@link AHEAD_BLOCKS} for each record from `#first` on, `#ahead` records. */
  #made: Uint8Array = new Uint8Array(0);
  #first = 0;
  #ahead = 0;
  /** Where the last record's blocks start in the array `#keystream` returned. */
  #at = 0;
  /** The GHASH state. */
  readonly #x = new Uint8Array(16);
  readonly #expected = new Uint8Array(TAG_SIZE);

  /**
   * @param blocks the AES-256 block cipher of this key
   * @example
   * ```ts
   * import { createCipheriv, createDecipheriv } from "node:crypto";
   * import { SmallGcm } from "./gcm.ts";
   * const key = crypto.getRandomValues(new Uint8Array(32)), iv = new Uint8Array(12); // record 0
   * const ecb = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
   * const gcm = new SmallGcm((blocks) => ecb.update(blocks));
   * const record = gcm.seal(0, new TextEncoder().encode("hello"));
   * const decipher = createDecipheriv("aes-256-gcm", key, iv).setAuthTag(record.subarray(5));
   * console.assert(new TextDecoder().decode(decipher.update(record.subarray(0, 5))) === "hello");
   * ```
   */
  constructor(blocks: BlockCipher) {
    this.#blocks = blocks;
    const h = blocks(new Uint8Array(16));
    const t = this.#table;
    // OpenSSL's gcm_init_4bit: H at 8, then halved (with reduction) at 4, 2, 1; the rest by xor.
    let v0 = word(h, 0), v1 = word(h, 4), v2 = word(h, 8), v3 = word(h, 12);
    for (let i = 8; i > 0; i >>= 1) {
      t[4 * i] = v0, t[4 * i + 1] = v1, t[4 * i + 2] = v2, t[4 * i + 3] = v3;
      const carry = v3 & 1;
      v3 = ((v3 >>> 1) | (v2 << 31)) >>> 0;
      v2 = ((v2 >>> 1) | (v1 << 31)) >>> 0;
      v1 = ((v1 >>> 1) | (v0 << 31)) >>> 0;
      v0 = ((v0 >>> 1) ^ (carry ? 0xe1000000 : 0)) >>> 0;
    }
    for (const base of [2, 4, 8]) {
      for (let j = 1; j < base; j++) {
        for (let w = 0; w < 4; w++) t[4 * (base + j) + w] = t[4 * base + w] ^ t[4 * j + w];
      }
    }
  }

  /**
   * Encrypts and authenticates one record.
   *
   * @param counter the record's number: the IV is 8 zero bytes and this as 32 bits, big-endian
   * @param plaintext at most {@link SMALL_RECORD} bytes
   * @returns the ciphertext followed by the 16-byte tag
   */
  seal(counter: number, plaintext: Uint8Array): Uint8Array<ArrayBuffer> {
    const length = plaintext.length;
    const stream = this.#keystream(counter, length), at = this.#at;
    const out = new Uint8Array(length + TAG_SIZE);
    for (let i = 0; i < length; i++) out[i] = plaintext[i] ^ stream[at + 16 + i];
    this.#tag(out, length, stream, at, out, length);
    return out;
  }

  /**
   * Checks and decrypts one record.
   *
   * @param counter the record's number, as for {@link SmallGcm.seal}
   * @param record ciphertext and tag, the ciphertext at most {@link SMALL_RECORD} bytes
   * @returns the plaintext, or `null` when the record fails to authenticate
   */
  open(counter: number, record: Uint8Array): Uint8Array<ArrayBuffer> | null {
    if (record.length < TAG_SIZE) return null;
    const length = record.length - TAG_SIZE;
    const stream = this.#keystream(counter, length), at = this.#at;
    const expected = this.#expected;
    this.#tag(record, length, stream, at, expected, 0);
    let difference = 0;
    for (let i = 0; i < TAG_SIZE; i++) difference |= expected[i] ^ record[length + i];
    if (difference !== 0) return null;
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = record[i] ^ stream[at + 16 + i];
    return out;
  }

  /**
   * E(K, IV || 1), E(K, IV || 2), …: the tag mask, then the keystream for `length` bytes, from
   * `#at` in the array returned. Records come numbered in order, so the blocks of the next
   * records, up to {@link AHEAD_RECORDS}, are made ahead, in one call of the block cipher (one call
   * costs microseconds; one block, nanoseconds).
   */
  #keystream(counter: number, length: number): Uint8Array {
    const blocks = Math.ceil(length / 16) + 1;
    if (blocks <= AHEAD_BLOCKS) {
      let index = counter - this.#first;
      if (index < 0 || index >= this.#ahead) {
        this.#ahead = Math.min(Math.max(2 * this.#ahead, 2), AHEAD_RECORDS);
        this.#first = counter;
        this.#made = this.#blocks(counterBlocks(this.#counters, counter, this.#ahead, AHEAD_BLOCKS));
        index = 0;
      }
      this.#at = 16 * AHEAD_BLOCKS * index;
      return this.#made;
    }
    this.#at = 0;
    return this.#blocks(counterBlocks(this.#counters, counter, 1, blocks));
  }

  /** Writes GHASH(ciphertext) xor E(K, IV || 1) into `out` at `at`. */
  #tag(ciphertext: Uint8Array, length: number, stream: Uint8Array, from: number, out: Uint8Array, at: number): void {
    const x = this.#x;
    x.fill(0);
    for (let start = 0; start < length; start += 16) {
      // X = (X xor C_i) · H, the last block padded with zeros
      const end = Math.min(start + 16, length);
      for (let i = start; i < end; i++) x[i - start] ^= ciphertext[i];
      this.#multiply();
    }
    // the length block: 64 bits of additional data length (0), then the ciphertext's length in bits
    const bits = length * 8;
    putWord(x, 8, word(x, 8) ^ Math.floor(bits / 0x100000000));
    putWord(x, 12, word(x, 12) ^ (bits >>> 0));
    this.#multiply();
    for (let i = 0; i < 16; i++) out[at + i] = x[i] ^ stream[from + i];
  }

  /** X = X · H in GF(2^128), Shoup's 4-bit method: nibbles from the last byte to the first. */
  #multiply(): void {
    const t = this.#table, x = this.#x;
    let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
    for (let i = 15; i >= 0; i--) {
      const byte = x[i];
      if (i !== 15) {
        const rem = z3 & 0xf;
        z3 = (z3 >>> 4) | (z2 << 28);
        z2 = (z2 >>> 4) | (z1 << 28);
        z1 = (z1 >>> 4) | (z0 << 28);
        z0 = (z0 >>> 4) ^ REM_4BIT[rem];
      }
      let e = 4 * (byte & 0xf);
      z0 ^= t[e], z1 ^= t[e + 1], z2 ^= t[e + 2], z3 ^= t[e + 3];
      const rem = z3 & 0xf;
      z3 = (z3 >>> 4) | (z2 << 28);
      z2 = (z2 >>> 4) | (z1 << 28);
      z1 = (z1 >>> 4) | (z0 << 28);
      z0 = (z0 >>> 4) ^ REM_4BIT[rem];
      e = 4 * (byte >>> 4);
      z0 ^= t[e], z1 ^= t[e + 1], z2 ^= t[e + 2], z3 ^= t[e + 3];
    }
    putWord(x, 0, z0), putWord(x, 4, z1), putWord(x, 8, z2), putWord(x, 12, z3);
  }
}

/** Writes the counter blocks `8 zero bytes || be32(record) || be32(j)`, j = 1…`blocks`, of `records` records. */
function counterBlocks(into: Uint8Array, first: number, records: number, blocks: number): Uint8Array {
  into.fill(0, 0, 16 * records * blocks);
  for (let r = 0, at = 0; r < records; r++) {
    const n = first + r;
    for (let j = 1; j <= blocks; j++, at += 16) {
      into[at + 8] = n >>> 24,
        into[at + 9] = (n >>> 16) & 0xff,
        into[at + 10] = (n >>> 8) & 0xff,
        into[at + 11] = n & 0xff;
      into[at + 15] = j; // j < 256: a small record has at most 18 blocks
    }
  }
  return into.subarray(0, 16 * records * blocks);
}

function word(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function putWord(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24, bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff, bytes[at + 3] = value & 0xff;
}
