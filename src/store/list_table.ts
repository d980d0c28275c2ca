/**
 * The server side of a CyberList: an `Array` plus what Python's `list` adds
 * (`insert`, `remove`, `count`, `pop(i)`), with negative indexes counting
 * from the end.
 *
 * @module
 */
import { IndexOutOfRangeError, ValueNotFoundError } from "../errors.ts";
import { deepEqual, sortedCopy } from "./values.ts";

// Most items passed to Array methods as spread arguments; more would risk a
// stack overflow (V8 overflows at about 100,000 arguments).
const SPREAD_LIMIT = 4096;

/** A list table held by the server. */
export class ListTable {
  /** The table's kind, as `tables()` reports it. */
  readonly kind = "CyberList" as const;
  #items: unknown[];

  /** @param items initial items (the array is taken over, not copied) */
  constructor(items: unknown[] = []) {
    this.#items = items;
  }

  /** Number of items. */
  get size(): number {
    return this.#items.length;
  }

  /** The item at `index`, or `undefined` out of range. */
  at(index: number): unknown {
    return this.#items.at(index);
  }

  /**
   * Replaces the item at `index`.
   *
   * @throws {IndexOutOfRangeError} out of range
   */
  set(index: number, value: unknown): void {
    this.#items[this.#inRange("set", index)] = value;
  }

  /**
   * Removes and returns the item at `index` (default: the last); `undefined` on an empty list without index.
   *
   * @throws {IndexOutOfRangeError} for an explicit index out of range
   */
  pop(index?: number): unknown {
    if (index === undefined) return this.#items.pop();
    return this.#items.splice(this.#inRange("pop", index), 1)[0];
  }

  /** Appends `values` (any number of them); returns the new length. */
  push(values: Iterable<unknown>): number {
    for (const value of values) this.#items.push(value);
    return this.#items.length;
  }

  /** Prepends `values` in order (any number of them); returns the new length. */
  unshift(values: readonly unknown[]): number {
    if (values.length <= SPREAD_LIMIT) return this.#items.unshift(...values);
    this.#items = values.concat(this.#items);
    return this.#items.length;
  }

  /** Removes and returns the first item; `undefined` when the list is empty. */
  shift(): unknown {
    return this.#items.shift();
  }

  /** Drops the items past `length` (an atomic batch undoing a push). */
  truncate(length: number): void {
    if (length < this.#items.length) this.#items.length = length;
  }

  /** Replaces every item with `items` (taken over, not copied): an atomic batch putting a list back. */
  replaceItems(items: unknown[]): void {
    this.#items = items;
  }

  /** Reverses the items in place. */
  reverse(): void {
    this.#items.reverse();
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
  }

  /** `Array.prototype.slice`: a shallow copy of the items from `start` up to `end`. */
  slice(start?: number, end?: number): unknown[] {
    return this.#items.slice(start, end);
  }

  /** `Array.prototype.splice` for any number of inserted `values`; returns the removed items. */
  splice(start: number, deleteCount: number, values: readonly unknown[]): unknown[] {
    if (values.length <= SPREAD_LIMIT) return this.#items.splice(start, deleteCount, ...values);
    const length = this.#items.length;
    const from = start < 0 ? Math.max(0, length + start) : Math.min(start, length);
    const removed = this.#items.splice(from, deleteCount);
    this.#items = [...this.#items.slice(0, from), ...values, ...this.#items.slice(from)];
    return removed;
  }

  /** Inserts before `index`, clamped to the list as Python's `list.insert` does. */
  insert(index: number, value: unknown): void {
    const length = this.#items.length;
    const at = index < 0 ? Math.max(0, length + index) : Math.min(index, length);
    this.#items.splice(at, 0, value);
  }

  /**
   * Removes the first item structurally equal to `value`.
   *
   * @throws {ValueNotFoundError} when there is none
   */
  remove(value: unknown): void {
    const at = this.indexOf(value, 0);
    if (at < 0) {
      throw new ValueNotFoundError("remove: the value is not in the list");
    }
    this.#items.splice(at, 1);
  }

  /** Number of items structurally equal to `value`. */
  count(value: unknown): number {
    let n = 0;
    for (const item of this.#items) if (deepEqual(item, value)) n++;
    return n;
  }

  /** Index of the first item structurally equal to `value` at or after `fromIndex`, or -1. */
  indexOf(value: unknown, fromIndex: number): number {
    const length = this.#items.length;
    for (
      let i = fromIndex < 0 ? Math.max(0, length + fromIndex) : fromIndex;
      i < length;
      i++
    ) {
      if (deepEqual(this.#items[i], value)) return i;
    }
    return -1;
  }

  /**
   * Sorts in place by natural order or by a field path.
   *
   * @throws {WrongTypeError} for incomparable items (the list is unchanged)
   */
  sort(options: { by?: string; descending?: boolean }): void {
    this.#items = sortedCopy(this.#items, options);
  }

  #inRange(op: string, index: number): number {
    const length = this.#items.length;
    const at = index < 0 ? length + index : index;
    if (at < 0 || at >= length) {
      throw new IndexOutOfRangeError(
        `${op}: index ${index} is out of range for a list of length ${length}`,
      );
    }
    return at;
  }
}
