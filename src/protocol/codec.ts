/**
 * The MessagePack codec for every body on the wire and in snapshots:
 * `msgpackr` configured for plain data only — no records, no structured
 * clone, no class extensions — with bigints of any size and Dates.
 *
 * @module
 */
import { Packr } from "msgpackr";
import { BadRequestError } from "../errors.ts";
import { checkMessagePack, MAX_DEPTH } from "./limits.ts";

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
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new BadRequestError(
      `undecodable message: ${(error as Error).message}`,
    );
  }
}
