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
 * rule), so `1` and `"1"` stay different keys.
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
  return typeof key === "string" ? `s${key}` : `n${key === 0 ? 0 : key}`;
}

/** A hash field back as the dict key it stores. */
export function fieldKey(field: string): Key {
  return field.charCodeAt(0) === 0x73 /* s */ ? field.slice(1) : Number(field.slice(1));
}
