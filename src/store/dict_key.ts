/**
 * A dict key as bytes, the form {@link CompactMap} stores and hashes: strings
 * as their UTF-16 code units (one byte each when all are below 256, so ASCII
 * and Latin-1 keys take a byte a character), numbers as float64 with -0
 * folded into 0 (the `Map` rule). Exact, unlike UTF-8, for strings holding
 * lone surrogates. Hashed with SipHash-1-3 under a secret per-process key
 * (`siphash.ts`), so no one outside can choose keys that collide.
 *
 * @module
 */
import { sipHash, type SipKey } from "./siphash.ts";
import type { Key } from "./values.ts";

/** How a key's bytes are to be read. */
export const LATIN1 = 0, UTF16 = 1, NUMBER = 2;

/** A random SipHash key per kind of key, for this process. */
const KIND_KEYS: readonly SipKey[] = [LATIN1, UTF16, NUMBER].map(() => crypto.getRandomValues(new Uint32Array(4)));

/** One key at a time, encoded into a reused buffer. */
export class KeyBytes {
  /** The encoded key: its first {@link KeyBytes.length} bytes. */
  bytes = new Uint8Array(256);
  /** Bytes in use. */
  length = 0;
  /** {@link LATIN1}, {@link UTF16} or {@link NUMBER}. */
  kind = LATIN1;
  #view = new DataView(this.bytes.buffer);

  /** Encodes `key`, replacing the previous one. */
  encode(key: Key): void {
    if (typeof key === "number") {
      this.kind = NUMBER;
      this.length = 8;
      this.#view.setFloat64(0, key === 0 ? 0 : key);
      return;
    }
    let wide = false;
    for (let i = 0; i < key.length && !wide; i++) wide = key.charCodeAt(i) > 0xff;
    const length = wide ? key.length * 2 : key.length;
    if (length > this.bytes.length) {
      this.bytes = new Uint8Array(Math.max(length, this.bytes.length * 2));
      this.#view = new DataView(this.bytes.buffer);
    }
    const bytes = this.bytes;
    if (wide) {
      for (let i = 0; i < key.length; i++) {
        const unit = key.charCodeAt(i);
        bytes[2 * i] = unit & 0xff;
        bytes[2 * i + 1] = unit >>> 8;
      }
    } else {
      for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
    }
    this.kind = wide ? UTF16 : LATIN1;
    this.length = length;
  }

  /**
   * SipHash-1-3 of the encoded key under this process's secret key for its kind
   * (one key per kind, so `"1"` and `1` hash independently): the low 32 bits.
   */
  hash(): number {
    return sipHash(this.bytes, this.length, KIND_KEYS[this.kind], 1, 3);
  }

  /** Whether `length` bytes of `source` from `start`, of kind `kind`, are this key. */
  equals(source: Uint8Array, start: number, length: number, kind: number): boolean {
    if (length !== this.length || kind !== this.kind) return false;
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) if (source[start + i] !== bytes[i]) return false;
    return true;
  }
}

const float = new DataView(new ArrayBuffer(8));

/** The key encoded in `length` bytes of `bytes` from `start`, of kind `kind`. */
export function decodeKey(bytes: Uint8Array, start: number, length: number, kind: number): Key {
  if (kind === NUMBER) {
    for (let i = 0; i < 8; i++) float.setUint8(i, bytes[start + i]);
    return float.getFloat64(0);
  }
  const width = kind === LATIN1 ? 1 : 2;
  const units: number[] = [];
  let text = "";
  for (let i = start; i < start + length; i += width) {
    units.push(width === 1 ? bytes[i] : bytes[i] | (bytes[i + 1] << 8));
    if (units.length === 4096) text += String.fromCharCode(...units.splice(0));
  }
  return text + String.fromCharCode(...units);
}
