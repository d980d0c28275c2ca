/**
 * Where a table lives in Redis. Every key of table `name` starts with
 * `<prefix>:{name}` — one hash tag, so all of them hash to one slot and one
 * node, and a Lua script may touch them together, in a Cluster too:
 *
 * - `<prefix>:{name}`    a hash: `kind` (`CyberDict` | `CyberList`), `seq`
 *   (the last insertion number of a dict), `ver` (a list's version, bumped by
 *   every write, for the optimistic ops)
 * - `<prefix>:{name}:h`  a CyberDict's entries: a hash, field = encoded key
 * - `<prefix>:{name}:o`  a CyberDict's insertion order: a sorted set, field → insertion number
 * - `<prefix>:{name}:l`  a CyberList's items: a list
 *
 * `{`, `}` and `%` in a name are percent-encoded, so the tag is the whole
 * name, never empty, and two names never share a key. The table registry
 * is `<prefix>:{%registry}:tables` (a sorted set: name → creation number)
 * and `<prefix>:{%registry}:seq`; no escaped name can be `%registry`.
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
  /** The table's metadata hash (kind, seq, ver). */
  meta: string;
  /** A dict's entries. */
  hash: string;
  /** A dict's insertion order. */
  order: string;
  /** A list's items. */
  list: string;
}

/** The default key prefix. */
export const DEFAULT_PREFIX = "cyberdb";

function escapeName(name: string): string {
  return name.replace(/[%{}]/g, (c) => (c === "%" ? "%25" : c === "{" ? "%7B" : "%7D"));
}

/** The keys of table `name` under `prefix`. */
export function tableKeys(prefix: string, name: string): TableKeys {
  const base = `${prefix}:{${escapeName(name)}}`;
  return { meta: base, hash: `${base}:h`, order: `${base}:o`, list: `${base}:l` };
}

/** The registry's keys under `prefix`: the names in creation order, and its counter. */
export function registryKeys(prefix: string): { tables: string; seq: string } {
  const base = `${prefix}:{%registry}`;
  return { tables: `${base}:tables`, seq: `${base}:seq` };
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
