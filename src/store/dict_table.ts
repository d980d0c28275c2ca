/**
 * The server side of a CyberDict: a `Map` plus what Python's `dict` adds
 * (`setDefault`, `pop` with a default, `popItem` in LIFO order, atomic
 * `increment`). Values are held encoded, in a {@link CompactMap}: a read sends
 * the stored bytes as they are. An entry may carry an expiry (an absolute
 * time by the store's clock, see `clock.ts`); once past it, the entry is
 * gone for every method.
 *
 * @module
 */
import { KeyNotFoundError, WrongTypeError } from "../errors.ts";
import { decode, encode, encodeArray, Encoded, WRAPPED_DEPTH } from "../protocol/codec.ts";
import { now } from "./clock.ts";
import { CompactMap } from "./compact_map.ts";
import { type Key, quote } from "./values.ts";

/** A dict table held by the server. */
export class DictTable {
  /** The table's kind, as `tables()` reports it. */
  readonly kind = "CyberDict" as const;
  readonly #map: CompactMap;

  /**
   * @param entries initial entries, in order
   * @param map the storage to use (a copy's)
   */
  constructor(entries: Iterable<readonly [Key, unknown]> = [], map = new CompactMap()) {
    this.#map = map;
    for (const [key, value] of entries) this.set(key, value);
  }

  /** Number of entries. */
  get size(): number {
    return this.#map.size;
  }

  /** Entries that have an expiry (some may be past it, not yet removed). */
  get expiring(): number {
    return this.#map.expiring;
  }

  /** Returns whether the key is present. */
  has(key: Key): boolean {
    return this.#map.has(key);
  }

  /**
   * The stored value, encoded, or `fallback` when the key is missing. Like
   * every {@link Encoded} result here, it views the table's memory: encode it
   * into the reply before the table changes again.
   */
  get(key: Key, fallback: unknown): unknown {
    const bytes = this.#map.get(key);
    return bytes === undefined ? fallback : new Encoded(bytes);
  }

  /**
   * Stores a value under a key.
   *
   * @param expiresAt when it expires (epoch ms), 0 for never
   */
  set(key: Key, value: unknown, expiresAt = 0): void {
    this.#map.set(key, encode(value), expiresAt);
  }

  /** Stores a value given as its MessagePack bytes (copied), which must decode on their own. */
  setEncoded(key: Key, bytes: Uint8Array, expiresAt = 0): void {
    this.#map.set(key, bytes, expiresAt);
  }

  /**
   * Sets when a key expires (epoch ms); a time already past removes it.
   *
   * @returns whether the key exists (nothing is changed otherwise)
   */
  expire(key: Key, expiresAt: number): boolean {
    return this.#map.setExpiry(key, expiresAt);
  }

  /** Removes a key's expiry; returns whether it had one. */
  persist(key: Key): boolean {
    if (!this.#map.expiresAt(key)) return false;
    return this.#map.setExpiry(key, 0);
  }

  /** Milliseconds until the key expires, `null` when it has no expiry, `undefined` when it is missing. */
  ttl(key: Key): number | null | undefined {
    const expiresAt = this.#map.expiresAt(key);
    if (expiresAt === undefined) return undefined;
    return expiresAt === 0 ? null : Math.max(0, expiresAt - now());
  }

  /** Whether a compaction of its storage is under way or due (work for {@link DictTable.expireSome}). */
  get compacting(): boolean {
    return this.#map.compacting;
  }

  /**
   * Removes what has expired, then goes on with compacting its storage, until `performance.now()` reaches `deadline`.
   *
   * @returns whether it stopped at the deadline with more to do
   */
  expireSome(deadline: number): boolean {
    return this.#map.expireSome(now(), deadline);
  }

  /** Sets what is called with the key of each expired entry as it is removed (the store's change feed). */
  set onExpired(listener: ((key: Key) => void) | undefined) {
    this.#map.onExpired = listener;
  }

  /** Removes a key; returns whether it existed. */
  delete(key: Key): boolean {
    return this.#map.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    this.#map.clear();
  }

  /** The keys, in insertion order. */
  keys(): Key[] {
    const keys: Key[] = [];
    this.#map.forEach((key) => void keys.push(key));
    return keys;
  }

  /** The values, in insertion order, as one encoded array. */
  values(): Encoded {
    const values: Encoded[] = [];
    this.#map.forEach((_, value) => void values.push(new Encoded(value)));
    return new Encoded(encodeArray(values));
  }

  /** The `[key, value]` pairs, in insertion order, as one encoded array. */
  entries(): Encoded {
    const entries: Encoded[] = [];
    this.#map.forEach((key, value) => void entries.push(new Encoded(encodeArray([key, new Encoded(value)]))));
    return new Encoded(encodeArray(entries));
  }

  /**
   * Calls `visit` with each key, its value bytes (a view valid during the
   * call) and its expiry (0 for none), in insertion order, until it returns `false`.
   *
   * @param from a cursor returned by an earlier call, to go on from there
   * @param at entries expired by this time (epoch ms) are skipped
   * @returns a cursor to go on from, or `undefined` once every entry was visited
   */
  forEachEncoded(
    visit: (key: Key, value: Uint8Array, expiresAt: number) => boolean,
    from = 0,
    at = now(),
  ): number | undefined {
    return this.#map.forEach(visit, from, at);
  }

  /** The storage, for an atomic batch's undo log (`atomic.ts`). */
  get map(): CompactMap {
    return this.#map;
  }

  /** An independent copy, made with a few memory copies. */
  copy(): DictTable {
    return new DictTable([], this.#map.copy());
  }

  /**
   * Returns the stored value, storing `value` first if the key is missing.
   *
   * @param expiresAt when a value stored now expires (epoch ms), 0 for never
   */
  setDefault(key: Key, value: unknown, expiresAt = 0): unknown {
    const stored = this.#map.get(key);
    if (stored !== undefined) return new Encoded(stored);
    this.set(key, value, expiresAt);
    return value;
  }

  /**
   * Removes a key and returns its value, or `fallback` when it is missing.
   *
   * @throws {KeyNotFoundError} for a missing key when no fallback was given
   */
  pop(key: Key, hasFallback: boolean, fallback: unknown): unknown {
    const stored = this.#map.get(key);
    if (stored === undefined) {
      if (hasFallback) return fallback;
      throw new KeyNotFoundError(
        `pop: no key ${quote(key)}; pass a default to get it instead of an error`,
      );
    }
    const value = new Encoded(stored);
    this.#map.delete(key); // leaves the bytes in place until a later change
    return value;
  }

  /**
   * Removes and returns the most recently inserted entry.
   *
   * @throws {KeyNotFoundError} when the dict is empty
   */
  popItem(): Encoded {
    const last = this.#map.popLast();
    if (last === undefined) throw new KeyNotFoundError("popItem: the dict is empty");
    return new Encoded(encodeArray([last[0], new Encoded(last[1])]));
  }

  /**
   * Adds `by` to a number (or bigint) and returns the sum; a missing key starts at 0. The key's
   * expiry, if any, is kept (as Redis's INCR keeps a TTL).
   *
   * @throws {WrongTypeError} when the stored value is not of the same numeric type as `by`
   */
  increment(key: Key, by: number | bigint): number | bigint {
    const stored = this.#map.get(key);
    const current = stored !== undefined ? decode(stored, WRAPPED_DEPTH) : (typeof by === "bigint" ? 0n : 0);
    if (typeof current !== typeof by) {
      throw new WrongTypeError(
        `increment: key ${quote(key)} holds ${current === null ? "null" : typeof current}, ` +
          `not a ${typeof by}; increment only adds to numbers (or bigints by a bigint)`,
      );
    }
    const sum = (current as number) + (by as number);
    this.set(key, sum, stored !== undefined ? this.#map.expiresAt(key) : 0);
    return sum;
  }
}
