/**
 * A hash map from dict keys to encoded values that keeps everything in a few
 * typed arrays instead of one V8 string per key and per value plus a `Map`
 * slot: a million 16-byte keys with 32-byte values take about 73 MB here
 * against about 160 MB of V8 heap as a `Map`, and the garbage collector has
 * nothing to trace.
 *
 * - Each entry's key and value are one record in a paged arena
 *   (`record_arena.ts`). A value rewritten with the same length is
 *   overwritten in place; otherwise the record moves to the end and the old
 *   bytes become dead until the next compaction.
 * - Entries are numbered in insertion order (the order `keys()` reports);
 *   entry `e` points at its record and remembers its key's hash. A deleted
 *   entry leaves a hole until the next compaction.
 * - Lookup is open addressing with linear probing over entry numbers
 *   (`slot_table.ts`). The hash is seeded per map, so keys chosen to collide on one server do not collide
 *   on another. Keys are stored in the exact form of `dict_key.ts`.
 * - An entry may expire: its time (epoch ms by the store's clock) is kept per
 *   entry in a `Float64Array` allocated with the first expiry, so a map that
 *   never expires anything pays nothing. An expired entry is invisible to
 *   every method at once; its memory goes when a lookup meets it or when
 *   {@link CompactMap.expireSome} (the active expiry) sweeps past it.
 *
 * @module
 */
import { now } from "./clock.ts";
import { KeyBytes } from "./dict_key.ts";
import { ExpiryTimes } from "./expiry_times.ts";
import { RecordArena } from "./record_arena.ts";
import { buildSlots, emptySlot, slotOf } from "./slot_table.ts";
import { grown, release } from "./typed_arrays.ts";
import type { Key } from "./values.ts";
/** The page of a deleted entry. */
const DELETED = 0xffffffff;
/** Dead bytes and holes tolerated before a compaction, whatever the map's size. */
const SLACK = 1 << 20;
/** Live entries up to which a compaction after an expiry sweep is cheap enough (well under 1 ms). */
const CHEAP_COMPACTION = 8192;

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
export class CompactMap {
  /** While set (an atomic batch), nothing is compacted or released, so saved state stays valid. */
  #holding = false;
  /** The records, and the reader of the one last parsed. */
  #arena = new RecordArena();
  /** Entry → page of its record, or {@link DELETED}. */
  #page = new Uint32Array(64);
  /** Entry → offset of its record in its page. */
  #at = new Uint32Array(64);
  /** Entry → hash of its key. */
  #hashes = new Uint32Array(64);
  /** Entries numbered so far, holes included. */
  #entries = 0;
  #size = 0;
  /** Entry → when it expires. */
  #expires = new ExpiryTimes();
  /** Called with the key of each expired entry as it is removed (met by a lookup, or by the active expiry). */
  onExpired: ((key: Key) => void) | undefined;
  /** Entry + 1 for each occupied slot, 0 for an empty one; the length is a power of two. */
  #slots = new Int32Array(128);
  readonly #seed = crypto.getRandomValues(new Uint32Array(1))[0];
  /** The key last looked up, and its hash. */
  readonly #key = new KeyBytes();
  #keyHash = 0;

  /** Number of entries (expired ones not counted, even before they are removed). */
  get size(): number {
    return this.#size - this.#expires.countExpired(this.#entries, now());
  }

  /** Entries that have an expiry (some may be past it, not yet removed). */
  get expiring(): number {
    return this.#expires.count;
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
    return this.#valueOf(this.#slots[slot] - 1);
  }

  /**
   * Stores a copy of `value` under the key.
   *
   * @param expiresAt when the entry expires (epoch ms), 0 for never
   */
  set(key: Key, value: Uint8Array, expiresAt = 0): void {
    const slot = this.#lookup(key);
    if (slot >= 0) {
      const entry = this.#slots[slot] - 1;
      this.#setExpiry(entry, expiresAt);
      const arena = this.#arena;
      this.#read(entry);
      if (arena.valueLength === value.length) {
        arena.bytes.set(value, arena.value);
        return;
      }
      arena.dead += arena.end - this.#at[entry];
      this.#append(entry, value);
      this.#compactIfWasteful();
      return;
    }
    if (this.#entries === this.#page.length) this.#growEntries(this.#entries * 2);
    const entry = this.#entries++;
    this.#append(entry, value);
    this.#hashes[entry] = this.#keyHash;
    this.#slots[~slot] = entry + 1;
    this.#setExpiry(entry, expiresAt);
    if (++this.#size * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
  }

  /** Removes a key; returns whether it was present. */
  delete(key: Key): boolean {
    const slot = this.#lookup(key);
    if (slot < 0) return false;
    this.#remove(slot);
    this.#compactIfWasteful();
    return true;
  }

  /** Removes every entry and gives the memory back. */
  clear(): void {
    if (!this.#holding) {
      for (const array of [this.#page, this.#at, this.#hashes, this.#slots]) release(array);
      this.#expires.clear();
    }
    this.#arena = new RecordArena();
    this.#entries = this.#size = 0;
    this.#page = new Uint32Array(64);
    this.#at = new Uint32Array(64);
    this.#hashes = new Uint32Array(64);
    this.#slots = new Int32Array(128);
    this.#expires = new ExpiryTimes();
  }

  /**
   * Holds compaction and the release of memory (during an atomic batch), so
   * that {@link saveKey} and {@link saveAll} can put things back; releasing
   * the hold compacts if that is due.
   */
  hold(on: boolean): void {
    this.#holding = on;
    if (!on) this.#compactIfWasteful();
  }

  /** What {@link restoreKey} needs to put the key back as it is now; `undefined` when it is missing. */
  saveKey(key: Key): SavedKey | undefined {
    const slot = this.#lookup(key);
    if (slot < 0) return undefined;
    const entry = this.#slots[slot] - 1;
    return {
      entry,
      page: this.#page[entry],
      at: this.#at[entry],
      hash: this.#hashes[entry],
      value: this.#valueOf(entry).slice(),
      expiresAt: this.#expires.of(entry),
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
      if (slot >= 0) this.#remove(slot);
      return;
    }
    if (slot >= 0) {
      this.set(key, saved.value, saved.expiresAt);
      return;
    }
    const { entry } = saved;
    this.#page[entry] = saved.page;
    this.#at[entry] = saved.at;
    this.#hashes[entry] = saved.hash;
    // Entries past the count were all deleted ones (the count only drops over those).
    if (this.#entries <= entry) this.#entries = entry + 1;
    this.#slots[~slot] = entry + 1;
    this.#size++;
    this.#read(entry);
    this.#arena.dead -= this.#arena.end - saved.at;
    this.#setExpiry(entry, saved.expiresAt);
  }

  /** Everything, to put back with the returned function (a `clear` undone, while {@link hold}ing). */
  saveAll(): () => void {
    const arena = this.#arena, restoreArena = arena.save();
    const page = this.#page, at = this.#at, hashes = this.#hashes, entries = this.#entries, size = this.#size;
    const slots = this.#slots, expires = this.#expires;
    return () => {
      this.#arena = arena;
      restoreArena();
      this.#page = page;
      this.#at = at;
      this.#hashes = hashes;
      this.#entries = entries;
      this.#size = size;
      this.#slots = slots;
      this.#expires = expires;
    };
  }

  /** The most recently inserted key that has not expired, or `undefined` when there is none. */
  lastKey(): Key | undefined {
    const at = now();
    for (let entry = this.#entries - 1; entry >= 0; entry--) {
      if (this.#page[entry] !== DELETED && !this.#expires.expired(entry, at)) return this.#keyOf(entry);
    }
    return undefined;
  }

  /** When the key expires (epoch ms), 0 when it never does, `undefined` when it is missing. */
  expiresAt(key: Key): number | undefined {
    const slot = this.#lookup(key);
    return slot < 0 ? undefined : this.#expires.of(this.#slots[slot] - 1);
  }

  /**
   * Sets when the key expires (epoch ms, 0 for never).
   *
   * @returns whether the key is present (nothing is changed otherwise)
   */
  setExpiry(key: Key, expiresAt: number): boolean {
    const slot = this.#lookup(key);
    if (slot < 0) return false;
    this.#setExpiry(this.#slots[slot] - 1, expiresAt);
    return true;
  }

  /**
   * The active expiry: removes expired entries, going on from where the last
   * call stopped, until every entry was looked at once or `performance.now()`
   * reaches `deadline` (the clock is read every 256 entries).
   *
   * @param at the time entries expire by (epoch ms)
   * @param deadline when to stop (by `performance.now()`)
   * @returns whether it stopped at the deadline with entries left to look at
   */
  expireSome(at: number, deadline: number): boolean {
    const { removed, outOfTime } = this.#expires.sweep(
      () => this.#entries,
      at,
      deadline,
      (entry) => this.#expire(this.#slotOf(entry)),
    );
    // A compaction copies every live entry: done here only while that is quick, else at the next write.
    // No view of a record is held here (unlike pop's), so the old pages can be given back at once.
    if (removed > 0 && this.#size <= CHEAP_COMPACTION) this.#compactIfWasteful(true);
    return outOfTime;
  }

  /**
   * Removes the most recently inserted entry and returns its key and value bytes
   * (a view, valid until the map is next changed), or `undefined` when the map is empty.
   */
  popLast(): [Key, Uint8Array] | undefined {
    let entry = this.#entries - 1;
    for (const at = now(); entry >= 0; entry--) {
      if (this.#page[entry] === DELETED) continue;
      if (!this.#expires.expired(entry, at)) break;
      this.#remove(this.#slotOf(entry));
    }
    if (entry < 0) return undefined;
    const key = this.#keyOf(entry);
    const value = this.#valueOf(entry);
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
    const expires = this.#expires;
    for (let entry = from; entry < this.#entries; entry++) {
      if (this.#page[entry] === DELETED || expires.expired(entry, at)) continue;
      if (visit(this.#keyOf(entry), this.#valueOf(entry), expires.of(entry)) === false) {
        return entry + 1 < this.#entries ? entry + 1 : undefined;
      }
    }
    return undefined;
  }

  /** An independent copy, made with a few memory copies (for snapshots). */
  copy(): CompactMap {
    const copy = new CompactMap();
    copy.#arena = this.#arena.copy();
    copy.#page = this.#page.slice(0, Math.max(this.#entries, 1));
    copy.#at = this.#at.slice(0, Math.max(this.#entries, 1));
    copy.#hashes = this.#hashes.slice(0, Math.max(this.#entries, 1));
    copy.#entries = this.#entries;
    copy.#size = this.#size;
    copy.#slots = this.#slots.slice();
    copy.#expires = this.#expires.copy(this.#entries);
    return copy;
  }

  /** The key's slot, or `~slot` where it would go; an expired entry met on the way is removed first. */
  #lookup(key: Key): number {
    const slot = this.#find(key);
    if (slot < 0 || !this.#expires.expired(this.#slots[slot] - 1, now())) return slot;
    this.#expire(slot);
    return this.#find(key);
  }

  /** Removes an expired entry, telling {@link onExpired}. */
  #expire(slot: number): void {
    const key = this.onExpired && this.#keyOf(this.#slots[slot] - 1);
    this.#remove(slot);
    if (key !== undefined) this.onExpired!(key);
  }

  /** The slot of a live entry. */
  #slotOf(entry: number): number {
    return slotOf(this.#slots, this.#hashes, entry);
  }

  #setExpiry(entry: number, expiresAt: number): void {
    this.#expires.set(entry, expiresAt, this.#page.length);
  }

  /** The slot holding the key, or `~slot` of the empty slot where it would go. */
  #find(key: Key): number {
    this.#key.encode(key);
    const hash = this.#keyHash = this.#key.hash(this.#seed);
    const slots = this.#slots, mask = slots.length - 1;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const occupant = slots[slot];
      if (occupant === 0) return ~slot;
      if (this.#hashes[occupant - 1] === hash && this.#keyEquals(occupant - 1)) return slot;
    }
  }

  /** Parses the record of `entry` (into the arena's reader fields). */
  #read(entry: number): void {
    this.#arena.read(this.#page[entry], this.#at[entry]);
  }

  #keyEquals(entry: number): boolean {
    this.#read(entry);
    return this.#arena.keyEquals(this.#key);
  }

  #keyOf(entry: number): Key {
    this.#read(entry);
    return this.#arena.key();
  }

  #valueOf(entry: number): Uint8Array {
    this.#read(entry);
    return this.#arena.valueBytes();
  }

  /** Writes a record of the encoded key and `value` and points `entry` at it. */
  #append(entry: number, value: Uint8Array): void {
    this.#page[entry] = this.#arena.append(this.#key, value);
    this.#at[entry] = this.#arena.lastAt;
  }

  /** Empties a slot, moving later slots of the same probe run back (no tombstones). */
  #remove(slot: number): void {
    const entry = this.#slots[slot] - 1;
    this.#read(entry);
    this.#arena.dead += this.#arena.end - this.#at[entry];
    this.#page[entry] = DELETED;
    this.#expires.clearEntry(entry);
    this.#size--;
    while (this.#entries > 0 && this.#page[this.#entries - 1] === DELETED) this.#entries--;
    emptySlot(this.#slots, this.#hashes, slot);
  }

  /** Rewrites the arena and renumbers the entries once dead bytes or holes outweigh live ones. */
  /** @param releasePages give the old arena pages back at once (only when no caller holds a view into them) */
  #compactIfWasteful(releasePages = false): void {
    if (this.#holding) return;
    const holes = this.#entries - this.#size;
    const old = this.#arena;
    const wasteful = (old.dead > SLACK && old.dead * 2 > old.used) ||
      (holes > SLACK / 64 && holes > this.#size);
    if (!wasteful) return;
    const pages = old.pages, arena = this.#arena = new RecordArena();
    const oldPage = this.#page, oldAt = this.#at, oldHashes = this.#hashes, oldEntries = this.#entries;
    const length = Math.max(64, Math.ceil(this.#size * 1.25));
    this.#page = new Uint32Array(length);
    this.#at = new Uint32Array(length);
    this.#hashes = new Uint32Array(length);
    const expires = this.#expires.renumber(length);
    let count = 0;
    for (let entry = 0; entry < oldEntries; entry++) {
      if (oldPage[entry] === DELETED) continue;
      // Copied from where it lies: #read would look it up through the new arrays.
      this.#page[count] = arena.copyRecord(pages[oldPage[entry]], oldAt[entry]);
      this.#at[count] = arena.lastAt;
      expires.move(entry, count);
      this.#hashes[count++] = oldHashes[entry];
    }
    for (const array of [oldPage, oldAt, oldHashes]) release(array);
    if (releasePages) { for (const page of pages) release(page); }
    expires.done();
    this.#entries = count;
    let capacity = 128;
    while (capacity < this.#size * 2) capacity *= 2;
    this.#rehash(capacity);
  }

  #rehash(capacity: number): void {
    const slots = buildSlots(capacity, this.#entries, this.#hashes, this.#page, DELETED);
    release(this.#slots);
    this.#slots = slots;
  }

  #growEntries(length: number): void {
    this.#page = grown(this.#page, length);
    this.#at = grown(this.#at, length);
    this.#hashes = grown(this.#hashes, length);
    this.#expires.grow(length);
  }
}
