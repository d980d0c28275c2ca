/**
 * A MessagePack scanner: it walks the headers of encoded values without
 * decoding them. {@link checkMessagePack} uses it on bytes from the network
 * before they are decoded (exactly one well-formed value, nesting no deeper
 * than a limit, no length that claims more bytes or items than the message
 * holds, so the decoder never recurses past the limit or allocates for a
 * lying length; the payload of a container extension, a `Map` or a `Set`,
 * is checked as one more level); {@link skipValue} and {@link arrayItems} use it to find
 * value boundaries in bytes that passed that check.
 *
 * Every header is classified in one place, {@link readHeader}: what kind of
 * value it starts, how many bytes the header and the payload take, how many
 * values it contains, and an extension's type.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import { ACCEPTED_EXTENSIONS, CONTAINER_EXTENSIONS } from "./extensions.ts";

/** Deepest nesting of arrays and maps accepted from the network. */
export const MAX_DEPTH = 256;

/**
 * What a header starts: one of MessagePack's type families, {@link NIL} to
 * {@link MAP}. Small numbers rather than strings: the scanning loops store one
 * per value, and a number costs them less.
 */
export type HeaderKind = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
/** `nil`. */
export const NIL: HeaderKind = 0;
/** `true` or `false`. */
export const BOOL: HeaderKind = 1;
/** An integer: fixint, uint 8 to 64, int 8 to 64. */
export const INT: HeaderKind = 2;
/** float 32 or 64. */
export const FLOAT: HeaderKind = 3;
/** A UTF-8 string. */
export const STR: HeaderKind = 4;
/** Binary data. */
export const BIN: HeaderKind = 5;
/** An extension: its type in {@link Header.extType}, its data in the payload. */
export const EXT: HeaderKind = 6;
/** An array: {@link Header.items} values follow. */
export const ARRAY: HeaderKind = 7;
/** A map: {@link Header.items} values follow, a key then its value for each entry. */
export const MAP: HeaderKind = 8;

/** One value's header, as {@link readHeader} reads it. */
export interface Header {
  /** The type family. */
  kind: HeaderKind;
  /** Bytes the header takes: the type byte, any length bytes, an extension's type byte. */
  size: number;
  /** Payload bytes right after the header: a number's, a string's or binary's, an extension's data; 0 for containers. */
  length: number;
  /** Values nested right inside it: an array's items, a map's keys and values (two per entry); 0 for the rest. */
  items: number;
  /** An extension's type (-128 to 127); 0 for the rest. */
  extType: number;
}

/**
 * A header to pass to {@link readHeader}, which overwrites it on every call.
 *
 * @returns a fresh header
 * @example
 * ```ts
 * import { ARRAY, newHeader, readHeader } from "./msgpack_scan.ts";
 * const bytes = new Uint8Array([0x92, 0x01, 0x02]); // [1, 2]
 * const header = newHeader();
 * readHeader(bytes, new DataView(bytes.buffer), 0, header);
 * console.log(header.kind === ARRAY, header.items); // true 2
 * ```
 */
export function newHeader(): Header {
  return { kind: NIL, size: 1, length: 0, items: 0, extType: 0 };
}

function set(out: Header, kind: HeaderKind, size: number, length: number, items: number): void {
  out.kind = kind;
  out.size = size;
  out.length = length;
  out.items = items;
  out.extType = 0;
}

/**
 * Reads the header of the value that starts at `pos` into `out`. Only the
 * header's own bytes are checked to be there; the payload and the nested
 * values are the caller's to check.
 *
 * @param bytes the message
 * @param view a DataView over exactly `bytes`
 * @param pos where the value starts
 * @param out the header to fill in (see {@link newHeader})
 * @throws {BadRequestError} when the header runs past the end of `bytes`, or for the never-used byte 0xc1
 * @example
 * ```ts
 * import { newHeader, readHeader, STR } from "./msgpack_scan.ts";
 * const bytes = new Uint8Array([0xa3, 0x61, 0x62, 0x63]); // "abc"
 * const header = newHeader();
 * readHeader(bytes, new DataView(bytes.buffer), 0, header);
 * console.log(header.kind === STR, header.size, header.length); // true 1 3
 * ```
 */
export function readHeader(bytes: Uint8Array, view: DataView, pos: number, out: Header): void {
  // The one-byte forms first and the rest out of line, so that this part is inlined into the loops.
  if (pos >= bytes.length) throw truncated();
  const b = bytes[pos];
  if (b <= 0x7f || b >= 0xe0) return set(out, INT, 1, 0, 0); // positive and negative fixint
  if (b >= 0xa0 && b <= 0xbf) return set(out, STR, 1, b & 0x1f, 0); // fixstr
  if (b >= 0x90 && b <= 0x9f) return set(out, ARRAY, 1, 0, b & 0x0f); // fixarray
  if (b >= 0x80 && b <= 0x8f) return set(out, MAP, 1, 0, (b & 0x0f) * 2); // fixmap
  readLongHeader(bytes, view, pos, out);
}

/** {@link readHeader} for the type bytes 0xc0 to 0xdf. */
function readLongHeader(bytes: Uint8Array, view: DataView, pos: number, out: Header): void {
  const b = bytes[pos];
  // Every other header: the type byte, then `size - 1` bytes that must be there.
  const size = HEADER_SIZE[b - 0xc0];
  if (size === 0) throw new BadRequestError(`invalid MessagePack byte 0x${b.toString(16)}`);
  if (pos + size > bytes.length) throw truncated();
  const at = pos + 1;
  switch (b) {
    case 0xc0:
      return set(out, NIL, 1, 0, 0);
    case 0xc2:
    case 0xc3:
      return set(out, BOOL, 1, 0, 0);
    case 0xc4: // bin 8, 16, 32
      return set(out, BIN, 2, bytes[at], 0);
    case 0xc5:
      return set(out, BIN, 3, view.getUint16(at), 0);
    case 0xc6:
      return set(out, BIN, 5, view.getUint32(at), 0);
    case 0xc7: // ext 8, 16, 32: length, then type
      set(out, EXT, 3, bytes[at], 0);
      out.extType = view.getInt8(at + 1);
      return;
    case 0xc8:
      set(out, EXT, 4, view.getUint16(at), 0);
      out.extType = view.getInt8(at + 2);
      return;
    case 0xc9:
      set(out, EXT, 6, view.getUint32(at), 0);
      out.extType = view.getInt8(at + 4);
      return;
    case 0xca: // float 32, 64
      return set(out, FLOAT, 1, 4, 0);
    case 0xcb:
      return set(out, FLOAT, 1, 8, 0);
    case 0xcc: // uint 8, 16, 32, 64
    case 0xd0: // int 8, 16, 32, 64
      return set(out, INT, 1, 1, 0);
    case 0xcd:
    case 0xd1:
      return set(out, INT, 1, 2, 0);
    case 0xce:
    case 0xd2:
      return set(out, INT, 1, 4, 0);
    case 0xcf:
    case 0xd3:
      return set(out, INT, 1, 8, 0);
    case 0xd4: // fixext 1, 2, 4, 8, 16: type, then data
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      set(out, EXT, 2, 1 << (b - 0xd4), 0);
      out.extType = view.getInt8(at);
      return;
    case 0xd9: // str 8, 16, 32
      return set(out, STR, 2, bytes[at], 0);
    case 0xda:
      return set(out, STR, 3, view.getUint16(at), 0);
    case 0xdb:
      return set(out, STR, 5, view.getUint32(at), 0);
    case 0xdc: // array 16, 32
      return set(out, ARRAY, 3, 0, view.getUint16(at));
    case 0xdd:
      return set(out, ARRAY, 5, 0, view.getUint32(at));
    case 0xde: // map 16, 32
      return set(out, MAP, 3, 0, view.getUint16(at) * 2);
    default: // 0xdf
      return set(out, MAP, 5, 0, view.getUint32(at) * 2);
  }
}

/** Header bytes (type byte included) of the types 0xc0 to 0xdf; 0 for 0xc1, which is never used. */
const HEADER_SIZE = new Uint8Array([
  1,
  0,
  1,
  1,
  2,
  3,
  5,
  3,
  4,
  6,
  1,
  1,
  1,
  1,
  1,
  1, // c0-cf: nil, (unused), bool, bin, ext, float, uint
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  2,
  2,
  3,
  5,
  3,
  5,
  3,
  5, // d0-df: int, fixext, str, array, map
]);

function truncated(): BadRequestError {
  return new BadRequestError("truncated message: a length points past its end");
}

/**
 * Checks that `bytes` hold exactly one well-formed MessagePack value within
 * the limits, with no extension type cyberdb does not declare
 * (`extensions.ts`), and counts the values it decodes to.
 *
 * @param bytes the message
 * @param maxDepth deepest nesting of arrays and maps accepted
 * @param outer levels of nesting open around `bytes` (the payload of a container extension)
 * @param maxValues most values accepted: the scan stops and throws as soon as there are more
 * @returns how many values the message decodes to (every scalar, container and extension counts one,
 *   the values inside a container extension too): a measure of the memory decoding takes
 * @throws {BadRequestError} saying what is wrong
 * @example
 * ```ts
 * import { checkMessagePack } from "./msgpack_scan.ts";
 * checkMessagePack(new Uint8Array([0x91, 0xc0])); // [null]: fine
 * try {
 *   checkMessagePack(new Uint8Array([0x92, 0xc0])); // claims two items, holds one
 * } catch (error) {
 *   console.log((error as Error).message);
 * }
 * ```
 */
export function checkMessagePack(
  bytes: Uint8Array,
  maxDepth: number = MAX_DEPTH,
  outer = 0,
  maxValues = Infinity,
): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  const header = scratch;
  // Items still to read in each open container, innermost last.
  const open: number[] = [];
  let pos = 0;
  let items = 1;
  let values = 0;
  // Values counted plus those the open containers still promise: over the budget, the message is refused
  // at the header that promises too many, not after walking millions of values to find out.
  let promised = 1;
  for (;;) {
    while (items === 0) {
      if (open.length === 0) {
        if (pos !== end) throw new BadRequestError("trailing bytes after the message");
        return values;
      }
      items = open.pop()!;
    }
    items--;
    values++; // within the budget: `promised` counted it already
    readHeader(bytes, view, pos, header);
    pos += header.size;
    const length = header.length, count = header.items;
    if (length > end - pos) throw truncated();
    if (header.kind === EXT) {
      const type = header.extType;
      if (!ACCEPTED_EXTENSIONS.includes(type)) {
        throw new BadRequestError(`MessagePack extension type ${type} is not a cyberdb value`);
      }
      if (CONTAINER_EXTENSIONS.includes(type)) {
        // A Map's or Set's payload is one nested array: checked as one more level (this reuses `header`).
        const payload = bytes.subarray(pos, pos + length);
        const inner = checkContainerPayload(payload, type, maxDepth, outer + open.length, maxValues - promised);
        values += inner;
        promised += inner;
      }
    }
    pos += length;
    if (count === 0) continue;
    // Every item takes at least one byte: a count above what is left is a lie.
    if (count > end - pos) throw new BadRequestError("a container claims more items than the message holds");
    if ((promised += count) > maxValues) {
      throw new BadRequestError(`the message decodes to over ${maxValues} values; send it in parts`);
    }
    if (outer + open.length >= maxDepth) throw new BadRequestError(`message nested deeper than ${maxDepth} levels`);
    open.push(items);
    items = count;
  }
}

/** Checks the payload of a container extension (`extensions.ts`): one array, within the nesting left. */
function checkContainerPayload(
  payload: Uint8Array,
  type: number,
  maxDepth: number,
  depth: number,
  maxValues: number,
): number {
  const b = payload[0];
  if (!((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd)) {
    throw new BadRequestError(`extension type ${type} must hold one array`);
  }
  return checkMessagePack(payload, maxDepth, depth, maxValues);
}

/** The header skipValue and checkMessagePack read into (they run to completion, never interleaved). */
const scratch = newHeader();

/**
 * The offset just past the value that starts at `pos`, in bytes that passed
 * {@link checkMessagePack} (nothing is checked again here).
 *
 * @param bytes the message
 * @param pos where the value starts
 * @param view a DataView over exactly `bytes`, when the caller has one
 * @returns the offset just past the value
 * @example
 * ```ts
 * import { skipValue } from "./msgpack_scan.ts";
 * console.log(skipValue(new Uint8Array([0x92, 0x01, 0xa1, 0x61, 0xc0]), 0)); // 4: [1, "a"] ends there
 * ```
 */
export function skipValue(
  bytes: Uint8Array,
  pos: number,
  view: DataView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
): number {
  const header = scratch;
  // Values still to skip: containers add their items (a map two per entry).
  for (let items = 1; items > 0; items--) {
    readHeader(bytes, view, pos, header);
    pos += header.size + header.length;
    items += header.items;
  }
  return pos;
}

/**
 * The offsets of the items of the array that starts at `pos`, followed by the
 * offset just past it, in bytes that passed {@link checkMessagePack}.
 *
 * @param bytes the message
 * @param pos where the array starts
 * @returns the offsets, or `undefined` when the value there is not an array
 * @example
 * ```ts
 * import { arrayItems } from "./msgpack_scan.ts";
 * console.log(arrayItems(new Uint8Array([0x92, 0x01, 0xa1, 0x61]), 0)); // [1, 2, 4]
 * ```
 */
export function arrayItems(bytes: Uint8Array, pos: number): number[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = scratch;
  readHeader(bytes, view, pos, header);
  if (header.kind !== ARRAY) return undefined;
  const count = header.items;
  pos += header.size;
  const offsets = [pos];
  for (let i = 0; i < count; i++) offsets.push(pos = skipValue(bytes, pos, view));
  return offsets;
}
