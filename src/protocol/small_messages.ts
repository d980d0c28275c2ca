/**
 * The common small messages — a `get` or `set` with string keys and values,
 * its reply — encoded and decoded without the general codec: a request made
 * only of short ASCII strings and 32-bit integers, and a reply wrapping a
 * value already encoded, cost several allocations and a scan each through
 * `codec.ts` for a few dozen bytes. The bytes are MessagePack as `codec.ts`
 * writes and reads it; anything else (a longer or non-ASCII string, a float,
 * a map…) takes the general path, so these functions only ever answer for
 * messages they read or write in full.
 *
 * Decoding here is its own check: every byte of the frame is accounted for
 * by the few forms accepted, so hostile bytes either parse to the same value
 * the general decoder gives, or are left to it (and its scan).
 *
 * @module
 */
import { encode, Encoded } from "./codec.ts";

/** Most items of a message decoded here (a fixarray). */
const MAX_ITEMS = 15;
/** Longest string encoded or decoded here (a fixstr or str8). */
const MAX_STRING = 255;

/**
 * Encodes `[id, status]` or `[id, status, result]`, `result` spliced in as
 * it is when it is {@link Encoded}, else encoded by the codec.
 *
 * @param id the request id (a whole number ≥ 0)
 * @param status the reply's status (`REPLY_OK`)
 * @param result the value; `undefined` for none
 * @returns the MessagePack bytes, or `undefined` for an id this does not write (the caller uses `encodeArray`)
 * @throws {BadRequestError} for a result the codec cannot encode
 * @example
 * ```ts
 * import { decode, Encoded, encode } from "./codec.ts";
 * import { encodeReply } from "./small_messages.ts";
 * console.log(decode(encodeReply(7, 0, new Encoded(encode("hi")))!)); // [ 7, 0, "hi" ]
 * ```
 */
export function encodeReply(id: number, status: number, result: unknown): Uint8Array | undefined {
  if (!(id >= 0 && id <= 0xffffffff && Number.isInteger(id)) || !(status >= 0 && status < 128)) return undefined;
  const value = result === undefined ? undefined : result instanceof Encoded ? result.bytes : encode(result);
  const idSize = id < 0x80 ? 1 : id < 0x100 ? 2 : id < 0x10000 ? 3 : 5;
  const out = new Uint8Array(2 + idSize + (value?.length ?? 0));
  out[0] = value === undefined ? 0x92 : 0x93;
  const at = 1 + writeUint(out, 1, id);
  out[at] = status;
  if (value !== undefined) out.set(value, at + 1);
  return out;
}

/**
 * Encodes `[id, op, table, ...args]` when every argument is an ASCII string
 * of at most 255 characters or an integer of 32 bits, and there are at most
 * 12 of them.
 *
 * @param id the request id
 * @param op the op name
 * @param table the table's name
 * @param args the op's arguments
 * @returns the MessagePack bytes, or `undefined` when a part is not of those kinds (the caller uses the codec)
 * @example
 * ```ts
 * import { decode } from "./codec.ts";
 * import { encodeSmallRequest } from "./small_messages.ts";
 * console.log(decode(encodeSmallRequest(1, "d.get", "centre", ["content"])!)); // [ 1, "d.get", "centre", "content" ]
 * ```
 */
export function encodeSmallRequest(
  id: number,
  op: string,
  table: string,
  args: readonly unknown[],
): Uint8Array | undefined {
  if (args.length > MAX_ITEMS - 3 || !(id >= 0 && id <= 0xffffffff && Number.isInteger(id))) return undefined;
  let size = 1 + uintSize(id), parts = stringSize(op) + stringSize(table);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    parts += typeof arg === "string" ? stringSize(arg) : typeof arg === "number" ? intSize(arg) : -Infinity;
  }
  if (!(parts > 0)) return undefined;
  size += parts;
  const out = new Uint8Array(size);
  out[0] = 0x90 | (args.length + 3);
  let at = 1 + writeUint(out, 1, id);
  at = writeString(out, at, op);
  at = writeString(out, at, table);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    at = typeof arg === "string" ? writeString(out, at, arg) : writeInt(out, at, arg as number);
  }
  return out;
}

/**
 * Decodes a message that is an array of at most 15 items, each an integer,
 * `nil`, a boolean or an ASCII string of at most 255 bytes.
 *
 * @param bytes one whole message
 * @returns its items, or `undefined` when the message is anything else (the caller uses the codec)
 * @example
 * ```ts
 * import { encode } from "./codec.ts";
 * import { decodeSmall } from "./small_messages.ts";
 * console.log(decodeSmall(encode([3, 0, "value"]))); // [ 3, 0, "value" ]
 * console.log(decodeSmall(encode([3, 0, { a: 1 }]))); // undefined
 * ```
 */
export function decodeSmall(bytes: Uint8Array): unknown[] | undefined {
  const end = bytes.length;
  if (end === 0 || (bytes[0] & 0xf0) !== 0x90) return undefined;
  const count = bytes[0] & 0x0f;
  const items: unknown[] = new Array(count);
  let at = 1;
  for (let i = 0; i < count; i++) {
    if (at >= end) return undefined;
    const type = bytes[at];
    if (type < 0x80) {
      items[i] = type;
      at++;
    } else if (type >= 0xe0) {
      items[i] = type - 0x100;
      at++;
    } else if ((type & 0xe0) === 0xa0 || type === 0xd9) {
      const long = type === 0xd9;
      if (long && at + 1 >= end) return undefined;
      const length = long ? bytes[at + 1] : type & 0x1f, start = at + (long ? 2 : 1);
      if (start + length > end) return undefined;
      for (let j = start; j < start + length; j++) if (bytes[j] >= 0x80) return undefined;
      const text = String.fromCharCode.apply(null, bytes.subarray(start, start + length) as unknown as number[]);
      items[i] = text;
      at = start + length;
    } else if (type === 0xc0) {
      items[i] = null, at++;
    } else if (type === 0xc2 || type === 0xc3) {
      items[i] = type === 0xc3, at++;
    } else {
      const size = type === 0xcc || type === 0xd0
        ? 1
        : type === 0xcd || type === 0xd1
        ? 2
        : type === 0xce || type === 0xd2
        ? 4
        : 0;
      if (size === 0 || at + 1 + size > end) return undefined;
      let n = 0;
      for (let j = 1; j <= size; j++) n = n * 256 + bytes[at + j];
      if (type >= 0xd0 && n >= 2 ** (8 * size - 1)) n -= 2 ** (8 * size); // int8/16/32: two's complement
      items[i] = n;
      at += 1 + size;
    }
  }
  return at === end ? items : undefined;
}

function uintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Bytes of an integer of 32 bits as an argument, or -Infinity when it is not one (a float, -0, too large). */
function intSize(n: number): number {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff || Object.is(n, -0)) return -Infinity;
  if (n >= 0) return uintSize(n);
  return n >= -32 ? 1 : n >= -0x80 ? 2 : n >= -0x8000 ? 3 : 5;
}

/** Bytes of a short ASCII string, or -Infinity when it is not one. */
function stringSize(text: string): number {
  const length = text.length;
  if (length > MAX_STRING) return -Infinity;
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) >= 0x80) return -Infinity;
  return length + (length < 32 ? 1 : 2);
}

function writeUint(out: Uint8Array, at: number, n: number): number {
  if (n < 0x80) {
    out[at] = n;
    return 1;
  }
  if (n < 0x100) {
    out[at] = 0xcc, out[at + 1] = n;
    return 2;
  }
  if (n < 0x10000) {
    out[at] = 0xcd, out[at + 1] = n >>> 8, out[at + 2] = n & 0xff;
    return 3;
  }
  out[at] = 0xce, out[at + 1] = n >>> 24, out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff, out[at + 4] = n & 0xff;
  return 5;
}

function writeInt(out: Uint8Array, at: number, n: number): number {
  if (n >= 0) return at + writeUint(out, at, n);
  if (n >= -32) {
    out[at] = n & 0xff;
    return at + 1;
  }
  if (n >= -0x80) {
    out[at] = 0xd0, out[at + 1] = n & 0xff;
    return at + 2;
  }
  if (n >= -0x8000) {
    out[at] = 0xd1, out[at + 1] = (n >> 8) & 0xff, out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = 0xd2, out[at + 1] = (n >>> 24) & 0xff, out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff, out[at + 4] = n & 0xff;
  return at + 5;
}

function writeString(out: Uint8Array, at: number, text: string): number {
  const length = text.length;
  if (length < 32) {
    out[at++] = 0xa0 | length;
  } else {
    out[at++] = 0xd9, out[at++] = length;
  }
  for (let i = 0; i < length; i++) out[at + i] = text.charCodeAt(i);
  return at + length;
}
