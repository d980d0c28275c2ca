/**
 * The MessagePack codec for every body on the wire and in snapshots:
 * `msgpackr` configured for plain data only — no records, no structured
 * clone, no class extensions — with bigints of any size and Dates.
 *
 * @module
 */
import { Packr } from "msgpackr";
import { BadRequestError } from "../errors.ts";
import { concat } from "./bytes.ts";
import { arrayItems, checkMessagePack, MAX_DEPTH } from "./msgpack_scan.ts";

/**
 * Nesting accepted where values come back wrapped (replies, snapshots): a
 * value accepted at {@link MAX_DEPTH} in a request sits a few levels deeper there.
 */
export const WRAPPED_DEPTH = MAX_DEPTH + 16;

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  useBigIntExtension: true,
  int64AsType: "bigint",
  copyBuffers: true,
});

/**
 * Encodes a value. The result is a fresh buffer owned by the caller.
 *
 * @param value plain data: null, booleans, numbers, bigints, strings, Uint8Array, Date, arrays, objects
 * @returns the MessagePack bytes
 * @throws {BadRequestError} for a value that cannot be encoded
 */
export function encode(value: unknown): Uint8Array {
  try {
    return packr.pack(value);
  } catch (error) {
    throw new BadRequestError(
      `cannot encode this value: ${(error as Error).message}`,
    );
  }
}

/**
 * Decodes a value. Binary data comes back as fresh `Uint8Array` copies, never
 * views of `bytes`.
 *
 * @param bytes a plain `Uint8Array` (not a Node `Buffer`)
 * @param maxDepth deepest nesting accepted
 * @returns the decoded value
 * @throws {BadRequestError} for bytes that are not one well-formed MessagePack value, or nest too deep
 */
export function decode(bytes: Uint8Array, maxDepth: number = MAX_DEPTH): unknown {
  checkMessagePack(bytes, maxDepth);
  return unpack(bytes);
}

/**
 * An array of a checked message whose items are decoded one at a time, when
 * asked for: a request carrying 10,000 entries then never holds them all
 * decoded at once, and a snapshot's values can be kept as the bytes they are.
 */
export class LazyArray implements Iterable<unknown> {
  readonly #bytes: Uint8Array;
  /** Where this array's encoding starts, then where each item starts, then where it ends. */
  readonly #offsets: number[];

  private constructor(bytes: Uint8Array, start: number, offsets: number[]) {
    this.#bytes = bytes;
    this.#offsets = [start, ...offsets];
  }

  /**
   * Checks a message as {@link decode} does and returns its items lazily.
   *
   * @returns `undefined` when the message is not an array
   * @throws {BadRequestError} for bytes that are not one well-formed MessagePack value, or nest too deep
   */
  static of(bytes: Uint8Array, maxDepth: number = MAX_DEPTH): LazyArray | undefined {
    checkMessagePack(bytes, maxDepth);
    const offsets = arrayItems(bytes, 0);
    return offsets && new LazyArray(bytes, 0, offsets);
  }

  /** Number of items. */
  get length(): number {
    return this.#offsets.length - 2;
  }

  /** Decodes the whole array at once, as {@link decode} would (without checking it again). */
  all(): unknown[] {
    return unpack(this.#bytes.subarray(this.#offsets[0], this.#offsets[this.#offsets.length - 1])) as unknown[];
  }

  /**
   * Decodes item `index`.
   *
   * @throws {BadRequestError} when it cannot be decoded
   */
  at(index: number): unknown {
    const start = this.#offsets[index + 1], end = this.#offsets[index + 2], bytes = this.#bytes;
    // Short ASCII strings (keys, mostly) directly: a decoder call costs more than the string.
    if (bytes[start] >= 0xa0 && bytes[start] <= 0xbf && end - start <= 32) {
      let ascii = true;
      for (let i = start + 1; i < end && ascii; i++) ascii = bytes[i] < 0x80;
      if (ascii) return String.fromCharCode.apply(null, bytes.subarray(start + 1, end) as unknown as number[]);
    }
    return unpack(bytes.subarray(start, end));
  }

  /** The bytes of item `index`, undecoded (a view of the message). */
  raw(index: number): Uint8Array {
    return this.#bytes.subarray(this.#offsets[index + 1], this.#offsets[index + 2]);
  }

  /** Item `index` as a lazy array, or `undefined` when it is not an array. */
  lazyAt(index: number): LazyArray | undefined {
    const start = this.#offsets[index + 1];
    const offsets = arrayItems(this.#bytes.subarray(0, this.#offsets[index + 2]), start);
    return offsets && new LazyArray(this.#bytes, start, offsets);
  }

  /** Decodes the items in order, one per step. */
  *[Symbol.iterator](): Iterator<unknown> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

function unpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new BadRequestError(`undecodable message: ${(error as Error).message}`);
  }
}

/** MessagePack bytes of one value, spliced unchanged into an array by {@link encodeArray}. */
export class Encoded {
  /** @param bytes exactly one encoded value */
  constructor(readonly bytes: Uint8Array) {}
}

/**
 * Encodes an array whose items may include {@link Encoded} values: their bytes
 * are copied in as they are, so a stored value is sent without being decoded
 * and encoded again.
 *
 * @returns the MessagePack bytes of the array
 * @throws {BadRequestError} for an item that cannot be encoded
 */
export function encodeArray(items: readonly unknown[]): Uint8Array {
  if (!items.some((item) => item instanceof Encoded)) return encode(items);
  const parts = [arrayHeader(items.length)];
  for (let start = 0; start < items.length;) {
    let end = start;
    if (items[start] instanceof Encoded) {
      parts.push((items[end++] as Encoded).bytes);
    } else {
      // A run of plain items is encoded as one array, without its header.
      while (end < items.length && !(items[end] instanceof Encoded)) end++;
      parts.push(encode(items.slice(start, end)).subarray(arrayHeader(end - start).length));
    }
    start = end;
  }
  return concat(parts);
}

function arrayHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count);
  if (count < 0x10000) return Uint8Array.of(0xdc, count >>> 8, count & 0xff);
  return Uint8Array.of(0xdd, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}
