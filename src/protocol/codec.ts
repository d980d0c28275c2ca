/**
 * The MessagePack codec for every body on the wire, in snapshots and in the
 * Redis engine's stored values: `msgpackr` configured for plain data only —
 * no records, no structured clone, no class extensions — with bigints of any
 * size and Dates, and cyberdb's own extension types (`extensions.ts`) for
 * `Map`, `Set` and strings holding lone surrogates. Every value is checked
 * against the value rules (`values.ts`) as it is encoded, so a value that
 * would not read back exactly is refused before anything is sent.
 *
 * @module
 */
import { addExtension, Packr } from "msgpackr";
import { BadRequestError } from "../errors.ts";
import { concat } from "./bytes.ts";
import { ACCEPTED_EXTENSIONS, EXT_MAP, EXT_OBJECT, EXT_SET, EXT_STRING } from "./extensions.ts";
import { arrayItems, checkMessagePack, MAX_DEPTH } from "./msgpack_scan.ts";
import { type ArgSpec, OP_ARGS } from "./messages.ts";
import { LooseString, MapItems, NegativeZero, ObjectItems, prepareValue, SetItems } from "./values.ts";

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

registerExtensions();

/** How {@link encode} checks a value. */
export interface EncodeOptions {
  /** The value's name at the root of error paths. @default {"value"} */
  name?: string;
  /** Whether `undefined` is refused anywhere in it, as in a stored value. @default {false} */
  strict?: boolean;
  /** Deepest nesting accepted. @default {WRAPPED_DEPTH} */
  maxDepth?: number;
}

/**
 * Encodes a message or a value. The result is a fresh buffer owned by the caller.
 *
 * @param value data within the value rules (`values.ts`)
 * @param options the name used in errors, and whether `undefined` is refused
 * @returns the MessagePack bytes
 * @throws {BadRequestError} for a value refused by the value rules, naming where it is
 * @example
 * ```ts
 * import { decode, encode } from "./codec.ts";
 * const map = decode(encode(new Map([[1, "one"], ["1", "string one"]])));
 * console.log(map); // Map(2) { 1 => "one", "1" => "string one" }
 * ```
 */
export function encode(value: unknown, options: EncodeOptions = {}): Uint8Array {
  const prepared = prepareValue(value, {
    name: options.name,
    strict: options.strict ?? false,
    maxDepth: options.maxDepth ?? WRAPPED_DEPTH,
  });
  try {
    return packr.pack(prepared);
  } catch (error) {
    throw new BadRequestError(`cannot encode this value: ${(error as Error).message}`);
  }
}

/**
 * Encodes one stored value (as the Redis engine keeps them): `undefined`
 * refused anywhere in it, nesting limited to `MAX_VALUE_DEPTH`.
 *
 * @param value the value
 * @param name its name in errors
 * @returns the MessagePack bytes
 * @throws {BadRequestError} for a value refused by the value rules, naming where it is
 */
export function encodeValue(value: unknown, name = "value"): Uint8Array {
  try {
    return packr.pack(prepareValue(value, { name }));
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    throw new BadRequestError(`cannot encode this value: ${(error as Error).message}`);
  }
}

/**
 * Encodes a request `[id, op, table, ...args]`, checking each argument by the
 * value rules under its name ({@link OP_ARGS}): a stored value (`value`,
 * `values`, `entries`…) may not hold `undefined` anywhere, and nothing may
 * nest deeper than `MAX_VALUE_DEPTH`. Every engine encodes its requests here,
 * so a value is refused the same way before anything is sent, wherever it goes.
 *
 * @param id the request id
 * @param op the op name
 * @param table the table's name
 * @param args the op's arguments
 * @returns the MessagePack bytes of the request
 * @throws {BadRequestError} naming the argument and the path inside it (`value.items[3].fn is a function: …`)
 * @example
 * ```ts
 * import { encodeRequest } from "./codec.ts";
 * try {
 *   encodeRequest(1, "d.set", "centre", ["k", { items: [0, 1, 2, { fn: () => 1 }] }]);
 * } catch (error) {
 *   console.log((error as Error).message); // value.items[3].fn is a function: …
 * }
 * ```
 */
export function encodeRequest(id: number, op: string, table: string, args: readonly unknown[]): Uint8Array {
  const request = [id, op, table, ...prepareArguments(op, args)];
  try {
    return packr.pack(request);
  } catch (error) {
    throw new BadRequestError(`cannot encode this ${op} request: ${(error as Error).message}`);
  }
}

/**
 * Checks the arguments of a request by the value rules, as
 * {@link encodeRequest} does, for an engine that encodes its values one by
 * one (Redis): the same refusals, with the same paths, before anything is sent.
 *
 * @param op the op name
 * @param args the op's arguments
 * @throws {BadRequestError} naming the argument and the path inside it
 * @example
 * ```ts
 * import { checkArguments } from "./codec.ts";
 * checkArguments("l.push", [1, new Map([[1, "one"]])]); // fine
 * try {
 *   checkArguments("l.push", [1, undefined]);
 * } catch (error) {
 *   console.log((error as Error).message); // values[1] is undefined: …
 * }
 * ```
 */
export function checkArguments(op: string, args: readonly unknown[]): void {
  prepareArguments(op, args);
}

/** Each argument checked under its name ({@link OP_ARGS}) and prepared for the packer. */
function prepareArguments(op: string, args: readonly unknown[]): unknown[] {
  const specs = OP_ARGS[op] ?? [];
  const prepared: unknown[] = [];
  for (let i = 0; i < args.length; i++) {
    const spec: ArgSpec | undefined = specs[Math.min(i, specs.length - 1)];
    let name = `args[${i}]`;
    if (spec !== undefined) name = spec.rest ? `${spec.name}[${i - specs.length + 1}]` : spec.name;
    if (spec !== undefined && !spec.rest && i >= specs.length) name = `args[${i}]`;
    prepared.push(prepareValue(args[i], { name, strict: spec?.stored ?? false, depth: -(spec?.wrap ?? 0) }));
  }
  return prepared;
}

/** Teaches msgpackr cyberdb's extension types, and to refuse every other one. */
function registerExtensions(): void {
  for (let type = 0; type < 256; type++) {
    if (ACCEPTED_EXTENSIONS.includes((type << 24) >> 24)) continue;
    addExtension({
      type,
      unpack() {
        throw new BadRequestError(`MessagePack extension type ${type} is not a cyberdb value`);
      },
    } as never);
  }
  const items = (payload: Uint8Array) => {
    const decoded = packr.unpack(payload);
    if (!Array.isArray(decoded)) throw new BadRequestError("a Map, Set or object extension must hold one array");
    return decoded;
  };
  addExtension({ Class: LooseString, type: EXT_STRING, pack: packLooseString, unpack: unpackLooseString });
  addExtension({
    Class: NegativeZero,
    type: EXT_STRING, // never written: -0 is written as a float 64, no extension
    pack(_: unknown, allocate: (size: number) => { target: Uint8Array; position: number }) {
      const { target, position } = allocate(9);
      target.set([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], position);
    },
    unpack: unpackLooseString,
  } as never);
  addExtension({ Class: MapItems, type: EXT_MAP, pack: (m: MapItems) => packr.pack(m.items), unpack: unpackMap });
  addExtension({ Class: SetItems, type: EXT_SET, pack: (s: SetItems) => packr.pack(s.items), unpack: unpackSet });
  addExtension({
    Class: ObjectItems,
    type: EXT_OBJECT,
    pack: (o: ObjectItems) => packr.pack(o.items),
    unpack: unpackObject,
  });

  function unpackMap(payload: Uint8Array): Map<unknown, unknown> {
    const flat = items(payload), map = new Map();
    if (flat.length % 2 !== 0) throw new BadRequestError("a Map extension must hold key, value pairs");
    for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
    return map;
  }
  function unpackSet(payload: Uint8Array): Set<unknown> {
    return new Set(items(payload));
  }
  function unpackObject(payload: Uint8Array): Record<string, unknown> {
    const flat = items(payload), object: Record<string, unknown> = {};
    if (flat.length % 2 !== 0) throw new BadRequestError("an object extension must hold key, value pairs");
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i];
      if (typeof key !== "string") throw new BadRequestError("an object extension's keys must be strings");
      Object.defineProperty(object, key, { value: flat[i + 1], enumerable: true, writable: true, configurable: true });
    }
    return object;
  }
}

function packLooseString(loose: LooseString): Uint8Array {
  const text = loose.text, bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes[2 * i] = unit & 0xff;
    bytes[2 * i + 1] = unit >>> 8;
  }
  return bytes;
}

function unpackLooseString(payload: Uint8Array): string {
  if (payload.length % 2 !== 0) throw new BadRequestError("a string extension must hold whole UTF-16 code units");
  let text = "";
  const units: number[] = [];
  for (let i = 0; i < payload.length; i += 2) {
    units.push(payload[i] | (payload[i + 1] << 8));
    if (units.length === 4096) text += String.fromCharCode(...units.splice(0));
  }
  return text + String.fromCharCode(...units);
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
 * Decodes bytes that already passed `checkMessagePack` (with the limits the
 * caller wants), without scanning them a second time.
 *
 * @param bytes a checked message
 * @returns the decoded value
 * @throws {BadRequestError} when the bytes hold a value the codec refuses
 * @example
 * ```ts
 * import { decodeChecked, encode } from "./codec.ts";
 * import { checkMessagePack } from "./msgpack_scan.ts";
 * const bytes = encode([1, "two"]);
 * checkMessagePack(bytes);
 * console.log(decodeChecked(bytes)); // [ 1, "two" ]
 * ```
 */
export function decodeChecked(bytes: Uint8Array): unknown {
  return unpack(bytes);
}

/**
 * An array of a checked message whose items are decoded one at a time, when
 * asked for: a request carrying 10,000 entries then never holds them all
 * decoded at once, and a snapshot's values can be kept as the bytes they are.
 */
export class LazyArray implements Iterable<unknown> {
  readonly #bytes: Uint8Array;
  /** Where each item starts, then where the array ends. */
  readonly #offsets: number[];
  /** Where this array's encoding starts. */
  readonly #start: number;
  private constructor(bytes: Uint8Array, start: number, offsets: number[]) {
    this.#bytes = bytes;
    // Kept apart: prepending to the offsets copied millions of them for a large request (seconds).
    this.#start = start;
    this.#offsets = offsets;
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
    return this.#offsets.length - 1;
  }

  /** Decodes the whole array at once, as {@link decode} would (without checking it again). */
  all(): unknown[] {
    return unpack(this.#bytes.subarray(this.#start, this.#offsets[this.#offsets.length - 1])) as unknown[];
  }

  /**
   * Decodes item `index`.
   *
   * @throws {BadRequestError} when it cannot be decoded
   */
  at(index: number): unknown {
    const start = this.#offsets[index], end = this.#offsets[index + 1], bytes = this.#bytes;
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
    return this.#bytes.subarray(this.#offsets[index], this.#offsets[index + 1]);
  }

  /** Item `index` as a lazy array, or `undefined` when it is not an array. */
  lazyAt(index: number): LazyArray | undefined {
    const start = this.#offsets[index];
    const offsets = arrayItems(this.#bytes.subarray(0, this.#offsets[index + 1]), start);
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
