/**
 * The server side of a CyberDict: a `Map` plus what Python's `dict` adds
 * (`setDefault`, `pop` with a default, `popItem` in LIFO order, atomic
 * `increment`).
 *
 * @module
 */
import { KeyNotFoundError, WrongTypeError } from "../errors.ts";
import type { Key } from "./values.ts";

/** A dict table held by the server. */
export class DictTable {
  /** The table's kind, as `tables()` reports it. */
  readonly kind = "CyberDict" as const;
  /** The entries, in insertion order. */
  readonly map: Map<Key, unknown>;
  // Keys in the order they were (last) inserted, with stale entries for deleted
  // keys; lets popItem find the newest key without walking the Map.
  #insertions: Key[];

  /** @param entries initial entries, in order */
  constructor(entries: Iterable<readonly [Key, unknown]> = []) {
    this.map = new Map(entries);
    this.#insertions = [...this.map.keys()];
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** Stores a value under a key. */
  set(key: Key, value: unknown): void {
    if (!this.map.has(key)) this.#insertions.push(key);
    this.map.set(key, value);
  }

  /** Removes a key; returns whether it existed. */
  delete(key: Key): boolean {
    if (!this.map.delete(key)) return false;
    if (this.#insertions.length > 2 * this.map.size + 32) {
      this.#insertions = [...this.map.keys()];
    }
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.map.clear();
    this.#insertions = [];
  }

  /** Returns the stored value, storing `value` first if the key is missing. */
  setDefault(key: Key, value: unknown): unknown {
    if (this.map.has(key)) return this.map.get(key);
    this.set(key, value);
    return value;
  }

  /**
   * Removes a key and returns its value, or `fallback` when it is missing.
   *
   * @throws {KeyNotFoundError} for a missing key when no fallback was given
   */
  pop(key: Key, hasFallback: boolean, fallback: unknown): unknown {
    if (!this.map.has(key)) {
      if (hasFallback) return fallback;
      throw new KeyNotFoundError(
        `pop: no key ${JSON.stringify(key)}; pass a default to get it instead of an error`,
      );
    }
    const value = this.map.get(key);
    this.delete(key);
    return value;
  }

  /**
   * Removes and returns the most recently inserted entry.
   *
   * @throws {KeyNotFoundError} when the dict is empty
   */
  popItem(): [Key, unknown] {
    while (this.#insertions.length > 0) {
      const key = this.#insertions.pop()!;
      if (this.map.has(key)) {
        const value = this.map.get(key);
        this.map.delete(key);
        return [key, value];
      }
    }
    throw new KeyNotFoundError("popItem: the dict is empty");
  }

  /**
   * Adds `by` to a number (or bigint) and returns the sum; a missing key starts at 0.
   *
   * @throws {WrongTypeError} when the stored value is not of the same numeric type as `by`
   */
  increment(key: Key, by: number | bigint): number | bigint {
    const current = this.map.has(key) ? this.map.get(key) : (typeof by === "bigint" ? 0n : 0);
    if (typeof current !== typeof by) {
      throw new WrongTypeError(
        `increment: key ${JSON.stringify(key)} holds ${current === null ? "null" : typeof current}, ` +
          `not a ${typeof by}; increment only adds to numbers (or bigints by a bigint)`,
      );
    }
    const sum = (current as number) + (by as number);
    this.set(key, sum);
    return sum;
  }
}
