/**
 * What the tables need to know about values: structural equality (for
 * `remove`, `count`, `indexOf`, `includes`), the natural order used by
 * `sort`, and the checks on keys and indexes.
 *
 * @module
 */
import { BadRequestError, WrongTypeError } from "../errors.ts";
import type { Key } from "../protocol/messages.ts";

export type { Key };

/**
 * Structural equality over stored values: primitives by value (NaN equals
 * NaN, 1 does not equal 1n, -0 equals 0 as in `Array.prototype.indexOf`),
 * Dates by time, bytes by content, arrays and plain objects member by
 * member, `Map`s entry by entry and `Set`s item by item in insertion order
 * (the order they read back in).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (
    typeof a !== typeof b || typeof a !== "object" || a === null || b === null
  ) {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Date) {
    return b instanceof Date && Object.is(a.getTime(), b.getTime());
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Map || a instanceof Set) {
    if (!(b instanceof (a instanceof Map ? Map : Set)) || a.size !== (b as Set<unknown>).size) return false;
    const other = (b as Set<unknown>).entries();
    for (const entry of a.entries()) if (!deepEqual(entry, other.next().value)) return false;
    return true;
  }
  if (Array.isArray(b) || b instanceof Date || b instanceof Uint8Array || b instanceof Map || b instanceof Set) {
    return false;
  }
  const aKeys = Object.keys(a as object),
    bObject = b as Record<string, unknown>;
  if (aKeys.length !== Object.keys(bObject).length) return false;
  for (const key of aKeys) {
    if (
      !Object.hasOwn(bObject, key) ||
      !deepEqual((a as Record<string, unknown>)[key], bObject[key])
    ) return false;
  }
  return true;
}

type SortKind = "number" | "string" | "date" | "boolean";

function sortKind(value: unknown): SortKind | undefined {
  switch (typeof value) {
    case "number":
      return Number.isNaN(value) ? undefined : "number";
    case "bigint":
      return "number";
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    default:
      return value instanceof Date && !Number.isNaN(value.getTime()) ? "date" : undefined;
  }
}

/** Characters of a request's string quoted back in an error message, at most (Redis cuts at 128). */
export const QUOTE_LIMIT = 100;

/**
 * Quotes a name or key from a request for an error message, cut to
 * {@link QUOTE_LIMIT} characters first, so a huge argument costs no huge reply.
 *
 * @param value a string or a number from the request
 * @returns the JSON form of its first {@link QUOTE_LIMIT} characters, with `…` when cut
 * @example
 * ```ts
 * import { quote } from "./values.ts";
 * console.assert(quote("x".repeat(1000)).length < 110);
 * ```
 */
export function quote(value: unknown): string {
  if (typeof value !== "string") return typeof value === "number" ? String(value) : describe(value);
  return value.length > QUOTE_LIMIT ? `${JSON.stringify(value.slice(0, QUOTE_LIMIT))}…` : JSON.stringify(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "a missing field";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  if (value instanceof Map) return "a Map";
  if (value instanceof Set) return "a Set";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Sorts a copy of `values` by their natural order: numbers and bigints by
 * value, strings by code point, Dates by time, booleans false first. The
 * sort is stable.
 *
 * @param values the list items
 * @param options `by`: a dot path into each item; `descending`: reverse order
 * @returns a new sorted array
 * @throws {WrongTypeError} when two sort keys are not comparable (the input is untouched)
 */
export function sortedCopy(
  values: readonly unknown[],
  options: { by?: string; descending?: boolean },
): unknown[] {
  const path = options.by === undefined ? undefined : options.by.split(".");
  const keyed = values.map((value, index) => ({
    value,
    key: path ? pluck(value, path) : value,
    index,
  }));
  let kind: SortKind | undefined;
  for (const { key } of keyed) {
    const k = sortKind(key);
    if (k === undefined || (kind !== undefined && k !== kind)) {
      const what = path ? `field ${quote(options.by)}` : "items";
      throw new WrongTypeError(
        `cannot sort: ${what} include ${describe(key)}` +
          (kind && k ? ` and ${kind}s` : "") +
          `; sort needs all numbers/bigints, all strings, all Dates or all booleans`,
      );
    }
    kind = k;
  }
  const sign = options.descending ? -1 : 1;
  const compare = kind === "string" ? compareCodePoints : compareNatural;
  keyed.sort((x, y) => {
    const order = compare(x.key as never, y.key as never);
    return order === 0 ? x.index - y.index : sign * order;
  });
  return keyed.map((entry) => entry.value);
}

function compareNatural(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders strings by code point (JavaScript's `<` orders by UTF-16 unit). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–DFFF) encode code points above U+FFFF: lift them over U+E000–FFFF.
    if (x >= 0xd800) x = x < 0xe000 ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

function pluck(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const part of path) {
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, part)) {
      return undefined;
    }
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/**
 * Checks that a dict key is a string or a finite number.
 *
 * @throws {BadRequestError} otherwise
 */
export function assertKey(op: string, key: unknown): asserts key is Key {
  if (
    typeof key === "string" || (typeof key === "number" && Number.isFinite(key))
  ) return;
  throw new BadRequestError(
    `${op}: keys must be strings or finite numbers, got ${describe(key)}`,
  );
}

/**
 * Checks that an argument is an integer (a list index or count).
 *
 * @throws {BadRequestError} otherwise
 */
export function assertInteger(
  op: string,
  name: string,
  value: unknown,
): asserts value is number {
  if (typeof value === "number" && Number.isSafeInteger(value)) return;
  throw new BadRequestError(
    `${op}: ${name} must be an integer, got ${describe(value)}`,
  );
}
