/**
 * The storage under {@link CompactMap}: its numbered entries, their records
 * and the slot table that finds them, with compaction; the map's API is in
 * `compact_map.ts`, which extends this class.
 *
 * - Each entry's key and value are one record in a paged arena
 *   (`record_arena.ts`). Entries are numbered in insertion order; entry `e`
 *   points at its record (`page[e]`, `at[e]`) and remembers its key's hash
 *   (`hashes[e]`). A deleted entry leaves a hole ({@link DELETED}) until the
 *   next compaction.
 * - Lookup is open addressing with linear probing over entry numbers
 *   (`slot_table.ts`). Keys are hashed with SipHash-1-3 under a secret
 *   per-process key (`dict_key.ts`), so keys chosen to collide cannot be
 *   found from outside.
 * - A compaction starts once dead bytes or holes outweigh live ones. It is
 *   incremental, so a big map never stalls the server for it: each write
 *   does a few steps of it and the active expiry cycle does the rest in
 *   slices of about 1 ms (see {@link MapEntries.compactSome}). It walks the
 *   entries in order with two cursors: `read`, the next entry to look at,
 *   and `write`, where it goes. Each live entry moves down to `write`
 *   (its slot is pointed at the new number) and its record, when it lies in
 *   a page from before the compaction, is copied to the end of the arena.
 *   Entries `[write, read)` are holes; lookups, order and iteration are
 *   those of an uncompacted map throughout. When `read` reaches the end,
 *   the old pages are dropped and the entry arrays (and the slot table, when
 *   that is cheap) shrink to the live entries.
 *
 * @module
 */
import { KeyBytes } from "./dict_key.ts";
import { ExpiryTimes } from "./expiry_times.ts";
import { RecordArena } from "./record_arena.ts";
import { buildSlots, emptySlot, slotOf } from "./slot_table.ts";
import { release, resized } from "./typed_arrays.ts";
import type { Key } from "./values.ts";

/** The page of a deleted entry. */
export const DELETED = 0xffffffff;
/** Dead bytes and holes tolerated before a compaction, whatever the map's size. */
const SLACK = 1 << 20;
/** Entries a write looks at of a compaction under way (the active expiry cycle does the rest). */
const STEPS_PER_WRITE = 32;
/** Live entries up to which the slot table is rebuilt smaller at the end of a compaction (well under 1 ms). */
const CHEAP_REHASH = 65_536;
/** Trailing holes a removal trims from the entry count at most (a compaction takes the rest). */
const TRIM = 1024;

/** A compaction under way (see the module header). */
export interface Compaction {
  /** The next entry to look at, and the number it moves to. */
  read: number;
  write: number;
  /** The first page made for it: records in pages numbered below it get copied. */
  firstNew: number;
  /** Record bytes in those pages (all dead once it is done). */
  oldBytes: number;
}

/** Entries, records and slots of one map; the fields are the map's own (see `compact_map.ts`). */
export class MapEntries {
  /** While set (an atomic batch), nothing is compacted or released, so saved state stays valid. */
  protected holding = false;
  /** The records, and the reader of the one last parsed. */
  protected arena = new RecordArena();
  /** Entry → page of its record, or {@link DELETED}. */
  protected page = new Uint32Array(64);
  /** Entry → offset of its record in its page. */
  protected at = new Uint32Array(64);
  /** Entry → hash of its key. */
  protected hashes = new Uint32Array(64);
  /** Entries numbered so far, holes included. */
  protected entries = 0;
  /** Live entries (expired ones included until they are removed). */
  protected live = 0;
  /** Entry → when it expires. */
  protected expires = new ExpiryTimes();
  /** Entry + 1 for each occupied slot, 0 for an empty one; the length is a power of two. */
  protected slots = new Int32Array(128);
  /** The compaction under way, if any. */
  protected compaction: Compaction | undefined;
  /**
   * Memory a compaction left, given back a few buffers per expiry cycle: freeing ~50 MiB at once takes
   * ~10 ms (page unmapping), and leaving it to the garbage collector keeps it resident until a full collection.
   */
  #unused: (Uint8Array | Uint32Array | Int32Array | Float64Array)[] = [];
  /** The key last looked up, and its hash. */
  protected readonly key = new KeyBytes();
  protected keyHash = 0;

  /** Drops every entry (the memory is given back unless {@link holding}). */
  protected reset(): void {
    if (!this.holding) {
      for (const array of [this.page, this.at, this.hashes, this.slots]) release(array);
      this.expires.clear();
    }
    this.arena = new RecordArena();
    this.entries = this.live = 0;
    this.page = new Uint32Array(64);
    this.at = new Uint32Array(64);
    this.hashes = new Uint32Array(64);
    this.slots = new Int32Array(128);
    this.expires = new ExpiryTimes();
    this.compaction = undefined;
  }

  /** Makes `copy` an independent copy of these entries, with a few memory copies. */
  protected copyInto(copy: MapEntries): void {
    const length = Math.max(this.entries, 1);
    copy.arena = this.arena.copy();
    copy.page = this.page.slice(0, length);
    copy.at = this.at.slice(0, length);
    copy.hashes = this.hashes.slice(0, length);
    copy.entries = this.entries;
    copy.live = this.live;
    copy.slots = this.slots.slice();
    copy.expires = this.expires.copy(this.entries);
  }

  /** The slot holding {@link key} once it is encoded, or `~slot` of the empty slot where it would go. */
  protected find(key: Key): number {
    this.key.encode(key);
    const hash = this.keyHash = this.key.hash();
    const slots = this.slots, hashes = this.hashes, mask = slots.length - 1;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const occupant = slots[slot];
      if (occupant === 0) return ~slot;
      if (hashes[occupant - 1] === hash && this.keyEquals(occupant - 1)) return slot;
    }
  }

  /** The slot of a live entry. */
  protected slotOf(entry: number): number {
    return slotOf(this.slots, this.hashes, entry);
  }

  protected setEntryExpiry(entry: number, expiresAt: number): void {
    this.expires.set(entry, expiresAt, this.page.length);
  }

  /** Parses the record of `entry` (into the arena's reader fields). */
  protected read(entry: number): void {
    this.arena.read(this.page[entry], this.at[entry]);
  }

  protected keyEquals(entry: number): boolean {
    this.read(entry);
    return this.arena.keyEquals(this.key);
  }

  protected keyOf(entry: number): Key {
    this.read(entry);
    return this.arena.key();
  }

  protected valueOf(entry: number): Uint8Array {
    this.read(entry);
    return this.arena.valueBytes();
  }

  /** Writes a record of the encoded key and `value` and points `entry` at it. */
  protected append(entry: number, value: Uint8Array): void {
    this.page[entry] = this.arena.append(this.key, value);
    this.at[entry] = this.arena.lastAt;
  }

  /** A new entry for the key last looked up (not found, `~slot` = `free`), holding `value`. */
  protected insert(free: number, value: Uint8Array, expiresAt: number): void {
    if (this.entries === this.page.length) this.resizeEntries(this.entries * 2);
    const entry = this.entries++;
    this.append(entry, value);
    this.hashes[entry] = this.keyHash;
    this.slots[free] = entry + 1;
    this.setEntryExpiry(entry, expiresAt);
    if (++this.live * 2 > this.slots.length) this.rehash(this.slots.length * 2);
  }

  /** Empties a slot, moving later slots of the same probe run back (no tombstones). */
  protected remove(slot: number): void {
    const entry = this.slots[slot] - 1;
    this.read(entry);
    this.arena.dead += this.arena.end - this.at[entry];
    this.page[entry] = DELETED;
    this.expires.clearEntry(entry);
    this.live--;
    for (let trim = 0; trim < TRIM && this.entries > 0 && this.page[this.entries - 1] === DELETED; trim++) {
      this.entries--;
    }
    const compaction = this.compaction;
    if (compaction !== undefined && this.entries < compaction.read) {
      // The entries past the count are holes: the compaction goes on from the count.
      compaction.read = this.entries;
      compaction.write = Math.min(compaction.write, this.entries);
    }
    emptySlot(this.slots, this.hashes, slot);
  }

  /** Whether dead bytes or holes outweigh live ones (and are more than a little). */
  protected get wasteful(): boolean {
    const holes = this.entries - this.live, arena = this.arena;
    return (arena.dead > SLACK && arena.dead * 2 > arena.used) || (holes > SLACK / 64 && holes > this.live);
  }

  /** The few steps of compaction a write does: starts one when due, looks at a few entries of it. */
  protected compactStep(): void {
    if (this.compaction !== undefined || this.wasteful) this.compactSome(Infinity, STEPS_PER_WRITE, false);
  }

  /**
   * Goes on with the compaction under way (or starts one when the map is
   * wasteful), looking at up to `steps` entries or until `performance.now()`
   * reaches `deadline` (read every 256 entries). Nothing happens while
   * {@link holding}.
   *
   * @param cycle called by the active expiry cycle: no caller holds a view into the records, so the memory a
   *   compaction leaves is given back (a few buffers per call); from a write, the garbage collector frees it
   * @returns whether work is left (a compaction under way, memory to give back)
   */
  protected compactSome(deadline: number, steps = Infinity, cycle = false): boolean {
    if (this.holding) return this.compaction !== undefined;
    if (cycle && !this.#giveBack(deadline)) return true;
    let compaction = this.compaction;
    if (compaction === undefined) {
      if (!this.wasteful) return false;
      const oldBytes = this.arena.used;
      compaction = this.compaction = { read: 0, write: 0, firstNew: this.arena.startPage(), oldBytes };
    }
    const { page, at, hashes, slots, arena, expires } = this;
    let { read, write } = compaction;
    const firstNew = compaction.firstNew;
    for (let looked = 1; read < this.entries && looked <= steps; looked++, read++) {
      if ((looked & 255) === 0 && performance.now() >= deadline) break;
      let where = page[read];
      if (where === DELETED) continue;
      let offset = at[read];
      if (where < firstNew) {
        where = arena.copyRecord(arena.bytesOf(where), offset);
        arena.dead += arena.end - offset;
        offset = arena.lastAt;
      }
      if (write !== read) {
        slots[slotOf(slots, hashes, read)] = write + 1;
        hashes[write] = hashes[read];
        expires.move(read, write);
        page[read] = DELETED;
      }
      page[write] = where;
      at[write++] = offset;
    }
    compaction.read = read;
    compaction.write = write;
    if (read < this.entries) return true;
    this.#finishCompaction(compaction, cycle);
    return this.#unused.length > 0;
  }

  /** Whether memory a compaction left is still to be given back. */
  protected get givingBack(): boolean {
    return this.#unused.length > 0;
  }

  /** Gives back buffers a compaction left, at least one, then until `deadline`; returns whether they all are. */
  #giveBack(deadline: number): boolean {
    const unused = this.#unused;
    for (let first = true; unused.length > 0; first = false) {
      if (!first && performance.now() >= deadline) return false;
      release(unused.pop()!);
    }
    return true;
  }

  /** Drops the old pages and shrinks the arrays to the live entries. */
  #finishCompaction(compaction: Compaction, cycle: boolean): void {
    this.compaction = undefined;
    this.entries = Math.min(this.entries, compaction.write);
    const pages = this.arena.dropBefore(compaction.firstNew);
    this.arena.used -= compaction.oldBytes;
    this.arena.dead -= compaction.oldBytes;
    const unused: (Uint8Array | Uint32Array | Int32Array | Float64Array)[] = pages;
    const length = Math.max(64, Math.ceil(this.entries * 1.25));
    if (this.page.length > 2 * length) {
      unused.push(this.page, this.at, this.hashes);
      this.page = this.page.slice(0, length);
      this.at = this.at.slice(0, length);
      this.hashes = this.hashes.slice(0, length);
      const times = this.expires.cut(length);
      if (times) unused.push(times);
    }
    let capacity = 128;
    while (capacity < this.live * 2) capacity *= 2;
    if (this.slots.length > 2 * capacity && this.live <= CHEAP_REHASH) {
      unused.push(this.slots);
      this.slots = buildSlots(capacity, this.entries, this.hashes, this.page, DELETED);
    }
    if (!cycle) return;
    // Given back in the next slices, smallest first (pop takes the last).
    this.#unused.push(...unused);
    this.#unused.sort((a, b) => b.byteLength - a.byteLength);
  }

  protected rehash(capacity: number): void {
    const slots = buildSlots(capacity, this.entries, this.hashes, this.page, DELETED);
    release(this.slots);
    this.slots = slots;
  }

  /** Makes room for `length` entries (or cuts the arrays to them: the ones past the count). */
  protected resizeEntries(length: number): void {
    this.page = resized(this.page, length);
    this.at = resized(this.at, length);
    this.hashes = resized(this.hashes, length);
    this.expires.resize(length);
  }
}
