/**
 * Where a table lives in Redis. Every key of table `name` starts with its
 * base key, which carries one hash tag, so all of them hash to one slot and
 * one node, and a Lua script may touch them together, in a Cluster too:
 *
 * - `<base>`    the table itself: a CyberDict is a Redis hash (field = encoded
 *   key, plus the field `#`, the last insertion number, which keeps an empty
 *   dict in existence); a CyberList is a Redis list whose first item is a
 *   marker (`\xc1L`, bytes MessagePack never writes), so an empty list
 *   exists too. A dict op on a list (or the other way) gets `WRONGTYPE`
 *   from Redis itself.
 * - `<base>:o`  a CyberDict's insertion order: a sorted set, field → insertion number
 * - `<base>:w`  the table's change channel (pub/sub, see `watch.ts`)
 *
 * The base key of a name without a hash tag is `<prefix>:{<escaped name>}`:
 * the tag is the whole name, so every table has a slot of its own choosing.
 * A name holding a Redis hash tag — by Redis's rule, the text between its
 * first `{` and the first `}` after it, when not empty — is placed under
 * that tag: `<prefix>:{<tag>}{<escaped name>}`. Tables whose names share a
 * tag (`{bank}alice`, `{bank}ledger`) share a slot, which an atomic batch
 * over several tables needs. `{`, `}` and `%` in the escaped name are
 * percent-encoded, so two names never share a key. The table registry is
 * `<prefix>:{%registry}:tables` (a sorted set: name → creation number) and
 * `<prefix>:{%registry}:seq`; no escaped name can be `%registry`.
 *
 * A dict key is stored as a hash field: `s` + the string (UTF-8), or `n` +
 * the number as JavaScript prints it (exact; -0 folded into 0, the `Map`
 * rule), so `1` and `"1"` stay different keys. A string holding a lone
 * surrogate, which UTF-8 cannot carry, is `u` + its UTF-16 code units, four
 * hex digits each, so `"\uD800"` and `"\uDBFF"` stay different keys too.
 *
 * @module
 */
import type { Key } from "../../store/values.ts";

/** The keys of one table. */
export interface TableKeys {
  /** The table: a dict's hash, or a list's list. */
  base: string;
  /** A dict's insertion order. */
  order: string;
  /** The table's change channel. */
  channel: string;
  /** The Cluster slot of all of them. */
  slot: number;
}

/** The default key prefix. */
export const DEFAULT_PREFIX = "cyberdb";

/** The field of a dict's hash that holds its last insertion number (no encoded key starts with `#`). */
export const SEQ_FIELD = "#";

function escapeName(name: string): string {
  return name.replace(/[%{}]/g, (c) => (c === "%" ? "%25" : c === "{" ? "%7B" : "%7D"));
}

function unescapeName(escaped: string): string {
  return escaped.replace(/%(25|7B|7D)/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The hash tag of a key or name by Redis's rule: between the first `{` and the first `}` after it, if not empty.
 *
 * @param text a key or a table name
 * @returns the tag, or `undefined` when there is none
 */
export function hashTag(text: string): string | undefined {
  const open = text.indexOf("{");
  if (open < 0) return undefined;
  const close = text.indexOf("}", open + 1);
  return close > open + 1 ? text.slice(open + 1, close) : undefined;
}

/** The keys of table `name` under `prefix`. */
export function tableKeys(prefix: string, name: string): TableKeys {
  const tag = hashTag(name);
  const base = tag === undefined ? `${prefix}:{${escapeName(name)}}` : `${prefix}:{${tag}}{${escapeName(name)}}`;
  return { base, order: `${base}:o`, channel: `${base}:w`, slot: keySlot(base) };
}

/**
 * The table name a base key (or a key or channel starting with it) belongs to.
 *
 * @param prefix the key prefix
 * @param key the base key, or `<base>:w`
 * @returns the name, or `undefined` for a key that is no table's
 */
export function nameOfKey(prefix: string, key: string): string | undefined {
  const start = `${prefix}:{`;
  if (!key.startsWith(start)) return undefined;
  const close = key.indexOf("}", start.length);
  if (close < 0) return undefined;
  const rest = key.slice(close + 1);
  if (rest === "" || rest.startsWith(":")) return unescapeName(key.slice(start.length, close));
  const end = rest.indexOf("}");
  return rest.startsWith("{") && end > 0 ? unescapeName(rest.slice(1, end)) : undefined;
}

/** The registry's keys under `prefix`: the names in creation order, and its counter. */
export function registryKeys(prefix: string): { tables: string; seq: string } {
  const base = `${prefix}:{%registry}`;
  return { tables: `${base}:tables`, seq: `${base}:seq` };
}

const CRC16 = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

/**
 * The Cluster slot of a key, as Redis computes it: CRC16 (XMODEM) of its hash tag (or of the whole key) mod 16384.
 *
 * @param key the key
 * @returns its slot, 0 to 16383
 * @example
 * ```ts
 * import { keySlot } from "./keys.ts";
 * console.log(keySlot("123456789")); // 12739, as CLUSTER KEYSLOT answers
 * ```
 */
export function keySlot(key: string): number {
  const bytes = new TextEncoder().encode(hashTag(key) ?? key);
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ byte) & 0xff];
  return crc & 0x3fff;
}

/** A dict key as its hash field. */
export function keyField(key: Key): string {
  if (typeof key !== "string") return `n${key === 0 ? 0 : key}`;
  return isWellFormed.call(key) ? `s${key}` : `u${codeUnits(key)}`;
}

/** `String.prototype.isWellFormed` (ES2024; the npm build's TypeScript lib is older). */
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

function codeUnits(text: string): string {
  let hex = "";
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).padStart(4, "0");
  return hex;
}

/** A hash field back as the dict key it stores. */
export function fieldKey(field: string): Key {
  const tag = field.charCodeAt(0);
  if (tag === 0x73 /* s */) return field.slice(1);
  if (tag === 0x75 /* u */) {
    let text = "";
    for (let i = 1; i < field.length; i += 4) text += String.fromCharCode(parseInt(field.slice(i, i + 4), 16));
    return text;
  }
  return Number(field.slice(1));
}
