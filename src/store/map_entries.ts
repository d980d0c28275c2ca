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
 * - A compaction rewrites the live records into a new arena and renumbers
 *   the entries, once dead bytes or holes outweigh live ones.
 *
 * @module
 */
import { KeyBytes } from "./dict_key.ts";
import { ExpiryTimes } from "./expiry_times.ts";
import { RecordArena } from "./record_arena.ts";
import { buildSlots, emptySlot, slotOf } from "./slot_table.ts";
import { grown, release } from "./typed_arrays.ts";
import type { Key } from "./values.ts";

/** The page of a deleted entry. */
export const DELETED = 0xffffffff;
/** Dead bytes and holes tolerated before a compaction, whatever the map's size. */
const SLACK = 1 << 20;

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
    if (this.entries === this.page.length) this.growEntries(this.entries * 2);
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
    while (this.entries > 0 && this.page[this.entries - 1] === DELETED) this.entries--;
    emptySlot(this.slots, this.hashes, slot);
  }

  /**
   * Rewrites the arena and renumbers the entries once dead bytes or holes outweigh live ones.
   *
   * @param releasePages give the old arena pages back at once (only when no caller holds a view into them)
   */
  protected compactIfWasteful(releasePages = false): void {
    if (this.holding) return;
    const holes = this.entries - this.live;
    const old = this.arena;
    const wasteful = (old.dead > SLACK && old.dead * 2 > old.used) ||
      (holes > SLACK / 64 && holes > this.live);
    if (!wasteful) return;
    const pages = old.pages, arena = this.arena = new RecordArena();
    const oldPage = this.page, oldAt = this.at, oldHashes = this.hashes, oldEntries = this.entries;
    const length = Math.max(64, Math.ceil(this.live * 1.25));
    this.page = new Uint32Array(length);
    this.at = new Uint32Array(length);
    this.hashes = new Uint32Array(length);
    const expires = this.expires.renumber(length);
    let count = 0;
    for (let entry = 0; entry < oldEntries; entry++) {
      if (oldPage[entry] === DELETED) continue;
      // Copied from where it lies: read() would look it up through the new arrays.
      this.page[count] = arena.copyRecord(pages[oldPage[entry]], oldAt[entry]);
      this.at[count] = arena.lastAt;
      expires.move(entry, count);
      this.hashes[count++] = oldHashes[entry];
    }
    for (const array of [oldPage, oldAt, oldHashes]) release(array);
    if (releasePages) { for (const page of pages) release(page); }
    expires.done();
    this.entries = count;
    let capacity = 128;
    while (capacity < this.live * 2) capacity *= 2;
    this.rehash(capacity);
  }

  protected rehash(capacity: number): void {
    const slots = buildSlots(capacity, this.entries, this.hashes, this.page, DELETED);
    release(this.slots);
    this.slots = slots;
  }

  protected growEntries(length: number): void {
    this.page = grown(this.page, length);
    this.at = grown(this.at, length);
    this.hashes = grown(this.hashes, length);
    this.expires.grow(length);
  }
}
