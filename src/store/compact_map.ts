/**
 * A hash map from dict keys to encoded values that keeps everything in a few
 * typed arrays instead of one V8 string per key and per value plus a `Map`
 * slot: a million 16-byte keys with 32-byte values take about 73 MB here
 * against about 160 MB of V8 heap as a `Map`, and the garbage collector has
 * nothing to trace.
 *
 * - Entries are numbered in insertion order (the order `keys()` reports),
 *   each pointing at one record of its key and value in a paged arena; keys
 *   are found by open addressing over a slot table, hashed with SipHash-1-3
 *   under a secret per-process key. That storage, and its compaction, is
 *   `map_entries.ts`; this file is the map's API over it.
 * - A value rewritten with the same length is overwritten in place;
 *   otherwise the record moves to the end and the old bytes become dead
 *   until the next compaction.
 * - An entry may expire: its time (epoch ms by the store's clock) is kept per
 *   entry in a `Float64Array` allocated with the first expiry, so a map that
 *   never expires anything pays nothing. An expired entry is invisible to
 *   every method at once; its memory goes when a lookup meets it or when
 *   {@link CompactMap.expireSome} (the active expiry) sweeps past it.
 *
 * @module
 */
import { now } from "./clock.ts";
import { DELETED, MapEntries } from "./map_entries.ts";
import type { Key } from "./values.ts";

/** What {@link CompactMap.saveKey} keeps of one key, to put it back exactly (order included). */
export interface SavedKey {
  /** Its entry number, record place and hash. */
  entry: number;
  page: number;
  at: number;
  hash: number;
  /** A copy of its value bytes, and its expiry. */
  value: Uint8Array;
  expiresAt: number;
}

/** A map from {@link Key}s to byte strings, in insertion order. */
export class CompactMap extends MapEntries {
  /** Called with the key of each expired entry as it is removed (met by a lookup, or by the active expiry). */
  onExpired: ((key: Key) => void) | undefined;

  /** Number of entries (expired ones not counted, even before they are removed). */
  get size(): number {
    return this.live - this.expires.countExpired(this.entries, now());
  }

  /** Entries that have an expiry (some may be past it, not yet removed). */
  get expiring(): number {
    return this.expires.count;
  }

  /**
   * Whether a compaction is under way or due, or memory one left is still to be given back: work for
   * {@link CompactMap.expireSome}, expiries or not.
   */
  get compacting(): boolean {
    return this.compaction !== undefined || this.wasteful || this.givingBack;
  }

  /** Returns whether the key is present. */
  has(key: Key): boolean {
    return this.#lookup(key) >= 0;
  }

  /**
   * Returns the key's value bytes, or `undefined` when it is missing. The
   * result is a view into the arena: valid until the map is next changed.
   */
  get(key: Key): Uint8Array | undefined {
    const slot = this.#lookup(key);
    if (slot < 0) return undefined;
    return this.valueOf(this.slots[slot] - 1);
  }

  /**
   * Stores a copy of `value` under the key.
   *
   * @param expiresAt when the entry expires (epoch ms), 0 for never
   */
  set(key: Key, value: Uint8Array, expiresAt = 0): void {
    const slot = this.#lookup(key);
    if (slot >= 0) {
      const entry = this.slots[slot] - 1;
      this.setEntryExpiry(entry, expiresAt);
      const arena = this.arena;
      this.read(entry);
      if (arena.valueLength === value.length) {
        arena.bytes.set(value, arena.value);
        return;
      }
      arena.dead += arena.end - this.at[entry];
      this.append(entry, value);
      this.compactStep();
      return;
    }
    this.insert(~slot, value, expiresAt);
  }

  /** Removes a key; returns whether it was present. */
  delete(key: Key): boolean {
    const slot = this.#lookup(key);
    if (slot < 0) return false;
    this.remove(slot);
    this.compactStep();
    return true;
  }

  /** Removes every entry and gives the memory back. */
  clear(): void {
    this.reset();
  }

  /**
   * Holds compaction and the release of memory (during an atomic batch), so
   * that {@link saveKey} and {@link saveAll} can put things back; releasing
   * the hold compacts if that is due.
   */
  hold(on: boolean): void {
    this.holding = on;
    if (!on) this.compactStep();
  }

  /** What {@link restoreKey} needs to put the key back as it is now; `undefined` when it is missing. */
  saveKey(key: Key): SavedKey | undefined {
    const slot = this.#lookup(key);
    if (slot < 0) return undefined;
    const entry = this.slots[slot] - 1;
    return {
      entry,
      page: this.page[entry],
      at: this.at[entry],
      hash: this.hashes[entry],
      value: this.valueOf(entry).slice(),
      expiresAt: this.expires.of(entry),
    };
  }

  /**
   * Puts a key back as {@link saveKey} saw it, undoing the changes made to it
   * since, in reverse order (while {@link hold}ing). A key deleted meanwhile
   * comes back at its place in the order: its record is still in the arena.
   */
  restoreKey(key: Key, saved: SavedKey | undefined): void {
    const slot = this.#lookup(key);
    if (saved === undefined) {
      if (slot >= 0) this.remove(slot);
      return;
    }
    if (slot >= 0) {
      this.set(key, saved.value, saved.expiresAt);
      return;
    }
    const { entry } = saved;
    this.page[entry] = saved.page;
    this.at[entry] = saved.at;
    this.hashes[entry] = saved.hash;
    // Entries past the count were all deleted ones (the count only drops over those).
    if (this.entries <= entry) this.entries = entry + 1;
    this.slots[~slot] = entry + 1;
    this.live++;
    this.read(entry);
    this.arena.dead -= this.arena.end - saved.at;
    this.setEntryExpiry(entry, saved.expiresAt);
  }

  /** Everything, to put back with the returned function (a `clear` undone, while {@link hold}ing). */
  saveAll(): () => void {
    const arena = this.arena, restoreArena = arena.save();
    const page = this.page, at = this.at, hashes = this.hashes, entries = this.entries, size = this.live;
    const slots = this.slots, expires = this.expires;
    const compaction = this.compaction && { ...this.compaction };
    return () => {
      this.compaction = compaction;
      this.arena = arena;
      restoreArena();
      this.page = page;
      this.at = at;
      this.hashes = hashes;
      this.entries = entries;
      this.live = size;
      this.slots = slots;
      this.expires = expires;
    };
  }

  /** The most recently inserted key that has not expired, or `undefined` when there is none. */
  lastKey(): Key | undefined {
    const at = now();
    for (let entry = this.entries - 1; entry >= 0; entry--) {
      if (this.page[entry] !== DELETED && !this.expires.expired(entry, at)) return this.keyOf(entry);
    }
    return undefined;
  }

  /** When the key expires (epoch ms), 0 when it never does, `undefined` when it is missing. */
  expiresAt(key: Key): number | undefined {
    const slot = this.#lookup(key);
    return slot < 0 ? undefined : this.expires.of(this.slots[slot] - 1);
  }

  /**
   * Sets when the key expires (epoch ms, 0 for never).
   *
   * @returns whether the key is present (nothing is changed otherwise)
   */
  setExpiry(key: Key, expiresAt: number): boolean {
    const slot = this.#lookup(key);
    if (slot < 0) return false;
    this.setEntryExpiry(this.slots[slot] - 1, expiresAt);
    return true;
  }

  /**
   * The active expiry: removes expired entries, going on from where the last
   * call stopped, until every entry was looked at once or `performance.now()`
   * reaches `deadline` (the clock is read every 256 entries); goes on with
   * the compaction under way or due too (half the time first, then what the
   * sweep leaves).
   *
   * @param at the time entries expire by (epoch ms)
   * @param deadline when to stop (by `performance.now()`)
   * @returns whether it stopped at the deadline with work left (entries to look at, or a compaction)
   */
  expireSome(at: number, deadline: number): boolean {
    // No view of a record is held here (unlike pop's), so the memory a compaction leaves can be given back.
    // A compaction under way gets half the time first: sweeps of a big map would otherwise leave it little.
    if (this.compaction !== undefined || this.givingBack) {
      const start = performance.now();
      this.compactSome(start + (deadline - start) / 2, Infinity, true);
    }
    const { outOfTime } = this.expires.sweep(
      () => this.entries,
      at,
      deadline,
      (entry) => this.#expire(this.slotOf(entry)),
    );
    if (outOfTime) return true;
    return this.compacting && this.compactSome(deadline, Infinity, true);
  }

  /**
   * Removes the most recently inserted entry and returns its key and value bytes
   * (a view, valid until the map is next changed), or `undefined` when the map is empty.
   */
  popLast(): [Key, Uint8Array] | undefined {
    let entry = this.entries - 1;
    for (const at = now(); entry >= 0; entry--) {
      if (this.page[entry] === DELETED) continue;
      if (!this.expires.expired(entry, at)) break;
      this.remove(this.slotOf(entry));
    }
    if (entry < 0) return undefined;
    const key = this.keyOf(entry);
    const value = this.valueOf(entry);
    this.delete(key); // a compaction copies into new pages: the view stays intact
    return [key, value];
  }

  /**
   * Calls `visit` for each entry not expired by `at`, in insertion order, with
   * its key, value bytes (a view, valid during the call) and expiry (0 for
   * none), until it returns `false`. `visit` must not change the map.
   *
   * @param from a cursor returned by an earlier call on the unchanged map
   * @param at entries expired by this time (epoch ms) are skipped
   * @returns a cursor to go on from, or `undefined` once every entry was visited
   */
  forEach(
    visit: (key: Key, value: Uint8Array, expiresAt: number) => boolean | void,
    from = 0,
    at = now(),
  ): number | undefined {
    const expires = this.expires;
    for (let entry = from; entry < this.entries; entry++) {
      if (this.page[entry] === DELETED || expires.expired(entry, at)) continue;
      if (visit(this.keyOf(entry), this.valueOf(entry), expires.of(entry)) === false) {
        return entry + 1 < this.entries ? entry + 1 : undefined;
      }
    }
    return undefined;
  }

  /** An independent copy, made with a few memory copies (for snapshots). */
  copy(): CompactMap {
    const copy = new CompactMap();
    this.copyInto(copy);
    return copy;
  }

  /** The key's slot, or `~slot` where it would go; an expired entry met on the way is removed first. */
  #lookup(key: Key): number {
    const slot = this.find(key);
    if (slot < 0 || !this.expires.expired(this.slots[slot] - 1, now())) return slot;
    this.#expire(slot);
    return this.find(key);
  }

  /** Removes an expired entry, telling {@link CompactMap.onExpired}. */
  #expire(slot: number): void {
    const key = this.onExpired && this.keyOf(this.slots[slot] - 1);
    this.remove(slot);
    if (key !== undefined) this.onExpired!(key);
  }
}
