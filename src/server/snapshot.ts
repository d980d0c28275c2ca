/**
 * The snapshot file format:
 *
 * ```
 * "CYBERDB\0"  8 bytes  magic
 * version      u32 BE   format version (1)
 * length       u64 BE   body length
 * body         MessagePack: [[name, "CyberDict", [k, v, k, v, …]] | [name, "CyberList", [items…]], …]
 * checksum     u32 BE   CRC-32 of the body
 * ```
 *
 * Pure code over bytes; the server writes the bytes atomically.
 *
 * @module
 */
import { SnapshotCorruptError } from "../errors.ts";
import { decode, encode, WRAPPED_DEPTH } from "../protocol/codec.ts";
import { crc32 } from "./checksum.ts";
import { DictTable } from "./dict_table.ts";
import { ListTable } from "./list_table.ts";
import { Store, type Table } from "./store.ts";
import type { Key } from "./values.ts";

const MAGIC = new TextEncoder().encode("CYBERDB\0");
const VERSION = 1;
const HEADER_SIZE = MAGIC.length + 4 + 8;
const TRAILER_SIZE = 4;

/**
 * Serializes every table of a store. Runs synchronously, so the snapshot is
 * one consistent point in time.
 */
export function encodeSnapshot(store: Store): Uint8Array {
  const tables = [...store.tables].map((
    [name, table],
  ) => [name, table.kind, tableData(table)]);
  const body = encode(tables);
  const out = new Uint8Array(HEADER_SIZE + body.length + TRAILER_SIZE);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  view.setUint32(8, VERSION);
  view.setBigUint64(12, BigInt(body.length));
  out.set(body, HEADER_SIZE);
  view.setUint32(HEADER_SIZE + body.length, crc32(body));
  return out;
}

function tableData(table: Table): unknown[] {
  if (table instanceof ListTable) return table.items;
  const flat = new Array(table.map.size * 2);
  let i = 0;
  for (const [key, value] of table.map) {
    flat[i++] = key;
    flat[i++] = value;
  }
  return flat;
}

/**
 * Parses a snapshot file.
 *
 * @param bytes the file's content
 * @param path the file's name, for error messages
 * @returns a new store holding its tables
 * @throws {SnapshotCorruptError} naming the file, for anything truncated, corrupt or of an unknown version
 */
export function decodeSnapshot(bytes: Uint8Array, path: string): Store {
  const corrupt = (what: string) =>
    new SnapshotCorruptError(
      `snapshot ${path} ${what}; restore it from a backup or start without it`,
    );
  if (
    bytes.length < HEADER_SIZE + TRAILER_SIZE ||
    !MAGIC.every((b, i) => bytes[i] === b)
  ) {
    throw corrupt(
      bytes.length < MAGIC.length ? "is truncated" : "is not a cyberdb snapshot",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8);
  if (version !== VERSION) {
    throw corrupt(
      `has format version ${version}; this server reads version ${VERSION}`,
    );
  }
  const length = view.getBigUint64(12);
  if (length !== BigInt(bytes.length - HEADER_SIZE - TRAILER_SIZE)) {
    throw corrupt(
      `is truncated or has trailing bytes (body of ${length} bytes announced)`,
    );
  }
  const body = bytes.subarray(HEADER_SIZE, bytes.length - TRAILER_SIZE);
  if (crc32(body) !== view.getUint32(bytes.length - TRAILER_SIZE)) {
    throw corrupt("fails its checksum");
  }
  let tables: unknown;
  try {
    tables = decode(body, WRAPPED_DEPTH);
  } catch (error) {
    throw new SnapshotCorruptError(
      `snapshot ${path} cannot be decoded: ${(error as Error).message}`,
    );
  }
  if (!Array.isArray(tables)) throw corrupt("has no table list");
  const store = new Store();
  for (const entry of tables) {
    if (
      !Array.isArray(entry) || typeof entry[0] !== "string" ||
      !Array.isArray(entry[2])
    ) {
      throw corrupt("has a malformed table");
    }
    const [name, kind, data] = entry as [string, unknown, unknown[]];
    if (kind === "CyberList") {
      store.tables.set(name, new ListTable(data));
    } else if (kind === "CyberDict" && data.length % 2 === 0) {
      store.tables.set(name, new DictTable(pairs(data)));
    } else {
      throw corrupt(`has a table ${JSON.stringify(name)} of unknown kind`);
    }
  }
  return store;
}

function* pairs(flat: unknown[]): Iterable<[Key, unknown]> {
  for (let i = 0; i < flat.length; i += 2) yield [flat[i] as Key, flat[i + 1]];
}
