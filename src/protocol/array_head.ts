/**
 * The first items of a MessagePack array that has not been checked, found
 * with bounded work: for describing a request (the slow log) that may be a
 * 15 MiB frame of 16 M items, without walking, or keeping an offset for,
 * every one of them.
 *
 * @module
 */
import { ARRAY, newHeader, readHeader } from "./msgpack_scan.ts";

/** Where the first items of an array start, as {@link arrayHead} finds them. */
export interface ArrayHead {
  /** The array's item count, as its header states it. */
  length: number;
  /** The start of each item found, then the end of the last one (one more offset than items found). */
  offsets: number[];
}

/**
 * The offsets of at most `maxItems` items of the array at the start of
 * `bytes`, walking at most `maxValues` value headers in all (an item holding
 * more ends the walk before it); every header is checked to lie within `bytes`.
 *
 * @param bytes a message, unchecked
 * @param options how many items, and how many headers in all, to walk at most
 * @returns the items found, or `undefined` when `bytes` do not start with an array or a header runs past the end
 * @example
 * ```ts
 * import { arrayHead } from "./array_head.ts";
 * console.log(arrayHead(new Uint8Array([0x93, 0x01, 0xa1, 0x61, 0xc0]), { maxItems: 2 }));
 * // { length: 3, offsets: [ 1, 2, 4 ] }
 * ```
 */
export function arrayHead(
  bytes: Uint8Array,
  options: { maxItems: number; maxValues?: number },
): ArrayHead | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = newHeader();
  try {
    readHeader(bytes, view, 0, header);
    if (header.kind !== ARRAY) return undefined;
    const length = header.items, offsets = [header.size];
    let budget = options.maxValues ?? 100_000, pos = header.size;
    for (let item = 0; item < Math.min(length, options.maxItems); item++) {
      for (let items = 1; items > 0; items--) {
        if (--budget < 0) return { length, offsets };
        readHeader(bytes, view, pos, header);
        pos += header.size + header.length;
        if (pos > bytes.length) return undefined;
        items += header.items;
      }
      offsets.push(pos);
    }
    return { length, offsets };
  } catch {
    return undefined;
  }
}
