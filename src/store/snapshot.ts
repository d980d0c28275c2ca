/**
 * The snapshot file format:
 *
 * ```
 * "CYBERDB\0"  8 bytes  magic
 * version      u32 BE   format version (1)
 * epoch        u64 BE   the journal this snapshot continues into
 * offset       u64 BE   bytes of that journal already reflected in this snapshot
 * length       u64 BE   body length
 * body         chunks, each u32 BE length + MessagePack [name, kind, items]:
 *              a table is one or more consecutive chunks with its name;
 *              dict items are flat [k, v, k, v, …]; a dict chunk with
 *              expiring entries has a 4th item, flat [i, time, i, time, …]:
 *              pair i of the chunk expires at time (epoch ms)
 * checksum     u32 BE   CRC-32 of the body
 * ```
 *
 * A snapshot is captured in one synchronous step (a copy of each dict's
 * memory, a shallow copy of each list: list values are never changed in
 * place, so the copies are a consistent point in time) and then encoded in
 * slices, yielding to other clients between slices. Entries expired at the
 * capture are left out; a snapshot loaded later leaves out those that
 * expired meanwhile.
 *
 * @module
 */
import { SnapshotCorruptError } from "../errors.ts";
import { decodeChecked, encode, encodeArray, Encoded, LazyArray, WRAPPED_DEPTH } from "../protocol/codec.ts";
import { arrayHead } from "../protocol/array_head.ts";
import { ARRAY, checkMessagePack, newHeader, readHeader } from "../protocol/msgpack_scan.ts";
import { crc32 } from "./checksum.ts";
import { now } from "./clock.ts";
import { DictTable } from "./dict_table.ts";
import { ListTable } from "./list_table.ts";
import { MAX_REQUEST_VALUES } from "./request.ts";
import { Store } from "./store.ts";
import type { Key } from "./values.ts";

const MAGIC = new TextEncoder().encode("CYBERDB\0");
const VERSION = 1;
const HEADER_SIZE = MAGIC.length + 4 + 8 + 8 + 8;
const TRAILER_SIZE = 4;
/** Entries encoded per slice; about 5 ms of work for small values. */
const SLICE = 10_000;
/**
 * What a crafted file is held to before it is decoded, as a request is: a
 * chunk holds at most {@link SLICE} items (a dict chunk that many pairs), the
 * most cyberdb has ever written in one, and each list item or dict value
 * decodes to at most {@link MAX_REQUEST_VALUES} values, as no request could
 * have stored a bigger one. A 7.6 MiB chunk of 8 M empty maps took 649 MiB
 * and 7 s to load before.
 */
const MAX_CHUNK_ITEMS = SLICE;

/** Where in the journal history a snapshot stands. */
export interface JournalPosition {
  /** The epoch of the journal that continues this snapshot. */
  epoch: number;
  /** Bytes of that journal (header included) already reflected in the snapshot. */
  offset: number;
}

/** The tables of a store at one point in time. */
export interface Capture {
  /** Each table's name, kind and content: a copy of a dict, or a list's items. */
  tables: { name: string; kind: "CyberDict" | "CyberList"; dict?: DictTable; items: unknown[] }[];
  /** The journal position at the moment of capture. */
  position: JournalPosition;
  /** The store's clock at the capture: entries expired by then are left out. */
  at: number;
}

/** Captures every table synchronously (a dict's memory copied, a list's items shallow-copied). */
export function capture(store: Store, position: JournalPosition): Capture {
  const tables = [...store.tables].map(([name, table]) =>
    table instanceof ListTable
      ? { name, kind: table.kind, items: table.slice() }
      : { name, kind: table.kind, dict: table.copy(), items: [] }
  );
  return { tables, position: { ...position }, at: now() };
}

/**
 * Encodes up to {@link SLICE} entries of a dict from `from` as one chunk
 * `[name, "CyberDict", [k, v, k, v, …]]`, each value's stored bytes copied in
 * as they are and ASCII keys written directly.
 */
function dictChunk(
  name: string,
  dict: DictTable,
  from: number,
  time: number,
): { chunk: Uint8Array; cursor: number | undefined } {
  let out = new Uint8Array(1 << 20), at = 0;
  const room = (n: number) => {
    if (at + n <= out.length) return;
    const grown = new Uint8Array(Math.max(at + n, out.length * 2));
    grown.set(out.subarray(0, at));
    out = grown;
  };
  const put = (bytes: Uint8Array) => {
    room(bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  };
  const putAsciiKey = (key: Key): boolean => {
    if (typeof key !== "string" || key.length >= 0x10000) return false;
    const length = key.length, header = length < 32 ? 1 : length < 256 ? 2 : 3;
    room(header + length);
    for (let i = 0; i < length; i++) {
      const unit = key.charCodeAt(i);
      if (unit >= 0x80) return false; // `at` has not moved: what was written here is overwritten next
      out[at + header + i] = unit;
    }
    if (header === 1) out[at] = 0xa0 | length;
    else if (header === 2) out.set([0xd9, length], at);
    else out.set([0xda, length >>> 8, length & 0xff], at);
    at += header + length;
    return true;
  };
  put(Uint8Array.of(0xdd, 0, 0, 0, 0)); // array 32, its count set below
  let count = 0;
  const expiries: number[] = [];
  const cursor = dict.forEachEncoded(
    (key, value, expiresAt) => {
      if (!putAsciiKey(key)) put(encode(key));
      put(value);
      if (expiresAt !== 0) expiries.push(count, expiresAt);
      return ++count < SLICE;
    },
    from,
    time,
  );
  new DataView(out.buffer).setUint32(1, 2 * count);
  const items = new Encoded(out.subarray(0, at));
  const chunk = encodeArray(expiries.length > 0 ? [name, "CyberDict", items, expiries] : [name, "CyberDict", items]);
  return { chunk, cursor };
}

function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Encodes a capture into snapshot bytes, a slice at a time.
 *
 * @param slices whether to yield to the event loop between slices (off for tiny stores and tests)
 */
export async function encodeCapture(captured: Capture, slices = true): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let bodyLength = 0;
  // The checksum runs along with the slices: one pass over 50 MB at the end would stall for ~100 ms.
  let checksum = 0;
  const add = (chunk: Uint8Array) => {
    const framed = new Uint8Array(4 + chunk.length);
    new DataView(framed.buffer).setUint32(0, chunk.length);
    framed.set(chunk, 4);
    chunks.push(framed);
    bodyLength += framed.length;
    checksum = crc32(framed, checksum);
  };
  for (const { name, kind, dict, items } of captured.tables) {
    if (dict !== undefined) {
      let cursor: number | undefined = 0;
      do {
        const slice = dictChunk(name, dict, cursor, captured.at);
        add(slice.chunk);
        cursor = slice.cursor;
        if (slices && cursor !== undefined) await yieldToOthers();
      } while (cursor !== undefined);
      continue;
    }
    if (items.length === 0) add(encode([name, kind, []]));
    for (let start = 0; start < items.length; start += SLICE) {
      const end = Math.min(items.length, start + SLICE);
      add(encode([name, kind, items.slice(start, end)]));
      if (slices && end < items.length) await yieldToOthers();
    }
  }
  const out = new Uint8Array(HEADER_SIZE + bodyLength + TRAILER_SIZE);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  view.setUint32(8, VERSION);
  view.setBigUint64(12, BigInt(captured.position.epoch));
  view.setBigUint64(20, BigInt(captured.position.offset));
  view.setBigUint64(28, BigInt(bodyLength));
  let at = HEADER_SIZE;
  for (const [i, chunk] of chunks.entries()) {
    out.set(chunk, at);
    at += chunk.length;
    if (slices && i % 16 === 15) await yieldToOthers();
  }
  view.setUint32(at, checksum);
  return out;
}

/** A decoded snapshot. */
export interface Snapshot {
  /** Its tables. */
  store: Store;
  /** Where the journal continues it. */
  position: JournalPosition;
}

/**
 * Parses a snapshot file.
 *
 * @param bytes the file's content
 * @param path the file's name, for error messages
 * @throws {SnapshotCorruptError} naming the file, for anything truncated, corrupt or of an unknown version
 */
export function decodeSnapshot(bytes: Uint8Array, path: string): Snapshot {
  const corrupt = (what: string) =>
    new SnapshotCorruptError(`snapshot ${path} ${what}; restore it from a backup or start without it`);
  if (bytes.length < HEADER_SIZE + TRAILER_SIZE || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw corrupt(bytes.length < HEADER_SIZE + TRAILER_SIZE ? "is truncated" : "is not a cyberdb snapshot");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8);
  if (version !== VERSION) throw corrupt(`has format version ${version}; this server reads version ${VERSION}`);
  // Read as bigint: one past 2^53 - 1 would be rounded as a number, and a journal matched to the wrong epoch.
  const epoch = view.getBigUint64(12), offset = view.getBigUint64(20);
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER) || offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw corrupt(`has a journal position (epoch ${epoch}, offset ${offset}) past 2^53 - 1`);
  }
  const position = { epoch: Number(epoch), offset: Number(offset) };
  const length = view.getBigUint64(28);
  if (length !== BigInt(bytes.length - HEADER_SIZE - TRAILER_SIZE)) {
    throw corrupt(`is truncated or has trailing bytes (body of ${length} bytes announced)`);
  }
  const end = bytes.length - TRAILER_SIZE;
  if (crc32(bytes.subarray(HEADER_SIZE, end)) !== view.getUint32(end)) throw corrupt("fails its checksum");
  const store = new Store();
  for (let at = HEADER_SIZE; at < end;) {
    const size = at + 4 <= end ? view.getUint32(at) : Infinity;
    if (at + 4 + size > end) throw corrupt("has a chunk running past its end");
    try {
      addChunk(store, bytes.subarray(at + 4, at + 4 + size), corrupt);
    } catch (error) {
      if (error instanceof SnapshotCorruptError) throw error;
      throw new SnapshotCorruptError(`snapshot ${path} cannot be decoded: ${(error as Error).message}`);
    }
    at += 4 + size;
  }
  return { store, position };
}

/**
 * Adds one chunk's items to the store, within the budgets of {@link MAX_CHUNK_ITEMS};
 * a dict's values are stored as the bytes they are in the file, once each is checked to decode.
 */
function addChunk(store: Store, bytes: Uint8Array, corrupt: (what: string) => Error): void {
  // The items' count from their header, found past the name and kind with bounded work, before the chunk is scanned.
  const head = arrayHead(bytes, { maxItems: 2, maxValues: 2 });
  const early = head?.offsets.length === 3 ? arrayLength(bytes.subarray(head.offsets[2])) : -1;
  if (early > 2 * MAX_CHUNK_ITEMS) {
    throw corrupt(`has a chunk of ${early} items, over the ${MAX_CHUNK_ITEMS} cyberdb writes`);
  }
  const chunk = LazyArray.of(bytes, WRAPPED_DEPTH);
  const name = chunk?.length === 3 || chunk?.length === 4 ? chunk.at(0) : undefined, kind = chunk?.at(1);
  if (typeof name !== "string") throw corrupt("has a malformed table");
  const quoted = JSON.stringify(name.slice(0, 100));
  // Counted from the array's header, before its items are so much as located.
  const count = arrayLength(chunk!.raw(2));
  if (count > (kind === "CyberDict" ? 2 : 1) * MAX_CHUNK_ITEMS) {
    throw corrupt(`has a chunk of ${count} items in ${quoted}, over the ${MAX_CHUNK_ITEMS} cyberdb writes`);
  }
  const items = chunk!.lazyAt(2);
  if (items === undefined) throw corrupt("has a malformed table");
  let table = store.tables.get(name);
  if (table === undefined) {
    if (kind === "CyberList") table = new ListTable();
    else if (kind === "CyberDict") table = new DictTable();
    else throw corrupt(`has a table ${quoted} of unknown kind`);
    store.tables.set(name, table);
  }
  if (table.kind !== kind) throw corrupt(`has table ${quoted} as two kinds`);
  for (let i = table instanceof ListTable ? 0 : 1; i < items.length; i += table instanceof ListTable ? 1 : 2) {
    checkValue(items.raw(i), quoted, corrupt, table instanceof DictTable);
  }
  if (table instanceof ListTable) {
    table.push(items);
    return;
  }
  if (items.length % 2 !== 0) throw corrupt(`has an odd dict chunk in ${quoted}`);
  // At most one expiry per pair: counted from the header before the list of them is decoded.
  if (chunk!.length === 4 && arrayLength(chunk!.raw(3)) > items.length) {
    throw corrupt(`has malformed expiries in ${quoted}`);
  }
  const expiries = expiriesOf(chunk!.length === 4 ? chunk!.at(3) : [], items.length / 2);
  if (expiries === undefined) throw corrupt(`has malformed expiries in ${quoted}`);
  const at = now();
  for (let i = 0; i < items.length; i += 2) {
    const expiresAt = expiries.get(i / 2) ?? 0;
    if (expiresAt !== 0 && expiresAt <= at) continue; // expired since the snapshot was taken
    const key = items.at(i);
    if (typeof key !== "string" && (typeof key !== "number" || !Number.isFinite(key))) {
      throw corrupt(`has a key that is not a string or a finite number in ${quoted}`);
    }
    table.setEncoded(key, items.raw(i + 1), expiresAt);
  }
}

/** The item count an array's header states, -1 when `bytes` do not start with an array. */
function arrayLength(bytes: Uint8Array): number {
  const header = newHeader();
  readHeader(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, header);
  return header.kind === ARRAY ? header.items : -1;
}

/**
 * Checks one list item or dict value of a chunk that passed the structural
 * scan: that it decodes to at most {@link MAX_REQUEST_VALUES} values (only one
 * of more bytes than that can: a value takes at least one byte) and, for a dict
 * value, stored undecoded, that it decodes at all (the scan does not look
 * into what an extension holds).
 */
function checkValue(value: Uint8Array, table: string, corrupt: (what: string) => Error, decodeIt: boolean): void {
  try {
    if (value.length > MAX_REQUEST_VALUES) checkMessagePack(value, WRAPPED_DEPTH, 0, MAX_REQUEST_VALUES);
    // A fixint or a fixstr (most keys' values in practice) decodes whatever it holds.
    if (decodeIt && !(value[0] <= 0x7f || value[0] >= 0xa0 && value[0] <= 0xbf)) decodeChecked(value);
  } catch (error) {
    const what = (error as Error).message.slice(0, 200);
    throw corrupt(`has a ${decodeIt ? "dict value" : "list item"} in ${table} that cannot be loaded (${what})`);
  }
}

/** A dict chunk's flat `[i, time, …]` as pair index → time, or `undefined` when malformed. */
function expiriesOf(flat: unknown, pairs: number): Map<number, number> | undefined {
  if (!Array.isArray(flat) || flat.length % 2 !== 0) return undefined;
  const expiries = new Map<number, number>();
  for (let i = 0; i < flat.length; i += 2) {
    const [pair, time] = [flat[i], flat[i + 1]];
    if (!Number.isInteger(pair) || pair < 0 || pair >= pairs || typeof time !== "number" || !(time > 0)) {
      return undefined;
    }
    expiries.set(pair, time);
  }
  return expiries;
}
