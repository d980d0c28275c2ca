/**
 * The MessagePack extension types cyberdb writes and reads, in one place. A
 * decoder (and the server's structural scanner) accepts exactly these; any
 * other extension type is refused.
 *
 * Payloads:
 * - {@link EXT_UNDEFINED} (fixext 1, one 0 byte): `undefined`, only where an
 *   argument may be absent (`get(key, undefined)`), never as a stored value.
 * - {@link EXT_BIGINT}: a bigint beyond 64 bits, two's complement, big-endian.
 * - {@link EXT_STRING}: a string that is not well-formed UTF-16 (it holds a
 *   lone surrogate, which UTF-8 cannot carry), as its UTF-16 code units,
 *   little-endian. Well-formed strings stay MessagePack strings.
 * - {@link EXT_MAP}: a `Map`, as one MessagePack array `[k1, v1, k2, v2, …]`
 *   in insertion order; keys and values are any values.
 * - {@link EXT_SET}: a `Set`, as one MessagePack array of its items in order.
 * - {@link EXT_OBJECT}: a plain object with a key that is not well-formed
 *   UTF-16, as one MessagePack array `[k1, v1, …]` whose keys are strings
 *   (in {@link EXT_STRING} where needed). Other plain objects stay MessagePack maps.
 * - {@link EXT_TIMESTAMP}: a `Date`, the standard MessagePack timestamp.
 *
 * `-0` needs no extension: it is written as a float 64, which every decoder
 * reads back as `-0`.
 *
 * @module
 */

/** `undefined` (msgpackr's and notepack's convention). */
export const EXT_UNDEFINED = 0;
/** A string holding a lone surrogate: its UTF-16 code units, little-endian. */
export const EXT_STRING = 0x01;
/** A `Map`: one array `[k1, v1, k2, v2, …]`. */
export const EXT_MAP = 0x02;
/** A `Set`: one array of its items. */
export const EXT_SET = 0x03;
/** A plain object with a key holding a lone surrogate: one array `[k1, v1, …]`. */
export const EXT_OBJECT = 0x04;
/** A bigint beyond 64 bits (msgpackr's `useBigIntExtension`). */
export const EXT_BIGINT = 0x42;
/** A `Date`: the MessagePack timestamp extension (type -1, the byte 0xff). */
export const EXT_TIMESTAMP = -1;

/** The extension types whose payload is one MessagePack array, to be scanned like any nested array. */
export const CONTAINER_EXTENSIONS: readonly number[] = [EXT_MAP, EXT_SET, EXT_OBJECT];

/**
 * Every extension type accepted, as signed numbers (`-1`, the timestamp, is
 * the byte `0xff` on the wire).
 *
 * @example
 * ```ts
 * import { ACCEPTED_EXTENSIONS } from "./extensions.ts";
 * const type = 0xff << 24 >> 24; // the type byte as read from the wire, signed
 * console.log(ACCEPTED_EXTENSIONS.includes(type)); // true
 * ```
 */
export const ACCEPTED_EXTENSIONS: readonly number[] = [
  EXT_UNDEFINED,
  EXT_STRING,
  EXT_MAP,
  EXT_SET,
  EXT_OBJECT,
  EXT_BIGINT,
  EXT_TIMESTAMP,
];

/**
 * Whether an extension type byte, as it appears on the wire (0–255), is one
 * cyberdb accepts.
 *
 * @param byte the type byte of an ext or fixext
 * @returns whether it is in {@link ACCEPTED_EXTENSIONS}
 * @example
 * ```ts
 * import { isAcceptedExtension } from "./extensions.ts";
 * console.log(isAcceptedExtension(0x02), isAcceptedExtension(0x74)); // true false
 * ```
 */
export function isAcceptedExtension(byte: number): boolean {
  return ACCEPTED_EXTENSIONS.includes((byte << 24) >> 24);
}
