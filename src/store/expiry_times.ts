/**
 * When each entry of a {@link CompactMap} expires: epoch milliseconds by the
 * store's clock, 0 for never, in a `Float64Array` indexed by entry number
 * and allocated with the first expiry (a map that never expires anything
 * pays nothing).
 *
 * @module
 */
import { release, resized } from "./typed_arrays.ts";

/** The expiry times of one map's entries. */
export class ExpiryTimes {
  #times: Float64Array<ArrayBuffer> | undefined;
  /** Entries that have an expiry (some may be past it, not yet removed). */
  count = 0;
  /** The entry the next sweep starts from. */
  #sweepAt = 0;

  /** When `entry` expires, 0 for never. */
  of(entry: number): number {
    return this.#times?.[entry] ?? 0;
  }

  /** Whether `entry` has expired by `at`. */
  expired(entry: number, at: number): boolean {
    if (this.count === 0) return false;
    const time = this.#times![entry];
    return time !== 0 && time <= at;
  }

  /**
   * Sets when `entry` expires (0: never).
   *
   * @param capacity the map's entry capacity, for the first allocation
   */
  set(entry: number, time: number, capacity: number): void {
    const before = this.#times?.[entry] ?? 0;
    if (before === time) return;
    this.#times ??= new Float64Array(capacity);
    this.#times[entry] = time;
    this.count += (time !== 0 ? 1 : 0) - (before !== 0 ? 1 : 0);
  }

  /** Entries among the first `entries` that have expired by `at`. */
  countExpired(entries: number, at: number): number {
    if (this.count === 0) return 0;
    const times = this.#times!;
    let expired = 0;
    for (let entry = 0; entry < entries; entry++) {
      const time = times[entry];
      if (time !== 0 && time <= at) expired++;
    }
    return expired;
  }

  /** Makes room for `length` entries. */
  resize(length: number): void {
    if (this.#times) this.#times = resized(this.#times, length);
  }

  /**
   * Cuts the array to `length` entries (those past it have no expiry), into a new array.
   *
   * @returns the old array, for the caller to give back, or `undefined` when there was none
   */
  cut(length: number): Float64Array | undefined {
    const old = this.#times;
    if (old) this.#times = old.slice(0, length);
    return old;
  }

  /** Moves the expiry of entry `from` to entry `to` (a compaction renumbering the entries). */
  move(from: number, to: number): void {
    const times = this.#times;
    if (times === undefined || times[from] === 0) return;
    times[to] = times[from];
    times[from] = 0;
  }

  /** Forgets every expiry and gives the memory back. */
  clear(): void {
    if (this.#times) release(this.#times);
    this.#times = undefined;
    this.count = this.#sweepAt = 0;
  }

  /** An independent copy of the first `entries` times. */
  copy(entries: number): ExpiryTimes {
    const copy = new ExpiryTimes();
    copy.#times = this.#times?.slice(0, Math.max(entries, 1));
    copy.count = this.count;
    return copy;
  }

  /**
   * The active expiry of one map: removes entries expired by `at`, going on
   * from where the last sweep stopped, until every entry was looked at once
   * or `performance.now()` reaches `deadline` (read every 256 entries).
   *
   * @param entries the current entry count (it shrinks as the last entries are removed)
   * @param remove removes a live entry (and calls {@link clearEntry} on it)
   * @returns how many were removed, and whether it stopped at the deadline with entries left to look at
   */
  sweep(
    entries: () => number,
    at: number,
    deadline: number,
    remove: (entry: number) => void,
  ): { removed: number; outOfTime: boolean } {
    if (this.count === 0) return { removed: 0, outOfTime: false };
    const times = this.#times!, total = entries();
    let entry = this.#sweepAt, removed = 0, outOfTime = false;
    for (let looked = 1; looked <= total; looked++, entry++) {
      if (entry >= entries()) entry = 0;
      const time = times[entry];
      if (time !== 0 && time <= at) {
        remove(entry);
        removed++;
      }
      if ((looked & 255) === 0 && performance.now() >= deadline) {
        outOfTime = looked < total;
        break;
      }
    }
    this.#sweepAt = outOfTime ? entry + 1 : 0;
    return { removed, outOfTime };
  }

  /** Forgets the expiry of a removed entry. */
  clearEntry(entry: number): void {
    if (this.count === 0 || this.#times![entry] === 0) return;
    this.#times![entry] = 0;
    this.count--;
  }
}
