/**
 * A hash map from dict keys to encoded values that keeps everything in a few
 * typed arrays instead of one V8 string per key and per value plus a `Map`
 * slot: a million 16-byte keys with 32-byte values take about 73 MB here
 * against about 160 MB of V8 heap as a `Map`, and the garbage collector has
 * nothing to trace.
 *
 * - Records `[key length × 4 + key kind][value length][key][value]` (the two
 *   numbers as LEB128 varints: 2 bytes for short keys and values) are
 *   appended to an arena of 1 MiB pages (allocated one at a time, so growing
 *   never copies). A value rewritten with the same length is overwritten in
 *   place; otherwise the record moves to the end and the old bytes become
 *   dead until the next compaction.
 * - Entries are numbered in insertion order (the order `keys()` reports);
 *   entry `e` points at its record and remembers its key's hash. A deleted
 *   entry leaves a hole until the next compaction.
 * - Lookup is open addressing with linear probing over entry numbers. The hash
 *   is seeded per map, so keys chosen to collide on one server do not collide
 *   on another. Keys are stored in the exact form of `dict_key.ts`.
 *
 * @module
 */
import { decodeKey, KeyBytes, LATIN1 } from "./dict_key.ts";
import type { Key } from "./values.ts";

/** Size of a full arena page, and of the first page of a new map. */
const PAGE = 1 << 20, FIRST_PAGE = 256;
/** The page of a deleted entry. */
const DELETED = 0xffffffff;
/** Dead bytes and holes tolerated before a compaction, whatever the map's size. */
const SLACK = 1 << 20;

/** A map from {@link Key}s to byte strings, in insertion order. */
export class CompactMap {
  /** Arena pages: records never straddle two; a record over half a page gets a page of its own. */
  #pages: Uint8Array[] = [new Uint8Array(FIRST_PAGE)];
  /** The page records are appended to, and its bytes in use. */
  #current = 0;
  #fill = 0;
  /** Offset of the space the last {@link #reserve} found. */
  #lastAt = 0;
  /** Record bytes written, live or dead; and those of records no entry points at. */
  #used = 0;
  #dead = 0;
  /** Entry → page of its record, or {@link DELETED}. */
  #page = new Uint32Array(64);
  /** Entry → offset of its record in its page. */
  #at = new Uint32Array(64);
  /** Entry → hash of its key. */
  #hashes = new Uint32Array(64);
  /** Entries numbered so far, holes included. */
  #entries = 0;
  #size = 0;
  /** Entry + 1 for each occupied slot, 0 for an empty one; the length is a power of two. */
  #slots = new Int32Array(128);
  readonly #seed = crypto.getRandomValues(new Uint32Array(1))[0];
  /** The key last looked up, and its hash. */
  readonly #key = new KeyBytes();
  #keyHash = 0;
  // The record #read parsed last: its page, key kind, key length, value offset and length, end.
  #rBytes = this.#pages[0];
  #rKind = LATIN1;
  #rKeyLength = 0;
  #rValue = 0;
  #rValueLength = 0;
  #rEnd = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** Returns whether the key is present. */
  has(key: Key): boolean {
    return this.#find(key) >= 0;
  }

  /**
   * Returns the key's value bytes, or `undefined` when it is missing. The
   * result is a view into the arena: valid until the map is next changed.
   */
  get(key: Key): Uint8Array | undefined {
    const slot = this.#find(key);
    if (slot < 0) return undefined;
    return this.#valueOf(this.#slots[slot] - 1);
  }

  /** Stores a copy of `value` under the key. */
  set(key: Key, value: Uint8Array): void {
    const slot = this.#find(key);
    if (slot >= 0) {
      const entry = this.#slots[slot] - 1;
      this.#read(entry);
      if (this.#rValueLength === value.length) {
        this.#rBytes.set(value, this.#rValue);
        return;
      }
      this.#dead += this.#rEnd - this.#at[entry];
      this.#append(entry, value);
      this.#compactIfWasteful();
      return;
    }
    if (this.#entries === this.#page.length) this.#growEntries(this.#entries * 2);
    const entry = this.#entries++;
    this.#append(entry, value);
    this.#hashes[entry] = this.#keyHash;
    this.#slots[~slot] = entry + 1;
    if (++this.#size * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
  }

  /** Removes a key; returns whether it was present. */
  delete(key: Key): boolean {
    const slot = this.#find(key);
    if (slot < 0) return false;
    this.#remove(slot);
    this.#compactIfWasteful();
    return true;
  }

  /** Removes every entry and gives the memory back. */
  clear(): void {
    this.#pages = [new Uint8Array(FIRST_PAGE)];
    this.#current =
      this.#fill =
      this.#used =
      this.#dead =
      this.#entries =
      this.#size =
        0;
    for (const array of [this.#page, this.#at, this.#hashes, this.#slots]) release(array);
    this.#page = new Uint32Array(64);
    this.#at = new Uint32Array(64);
    this.#hashes = new Uint32Array(64);
    this.#slots = new Int32Array(128);
  }

  /**
   * Removes the most recently inserted entry and returns its key and value bytes
   * (a view, valid until the map is next changed), or `undefined` when the map is empty.
   */
  popLast(): [Key, Uint8Array] | undefined {
    if (this.#size === 0) return undefined;
    let entry = this.#entries - 1;
    while (this.#page[entry] === DELETED) entry--;
    const key = this.#keyOf(entry);
    const value = this.#valueOf(entry);
    this.delete(key); // a compaction copies into new pages: the view stays intact
    return [key, value];
  }

  /**
   * Calls `visit` for each entry in insertion order with its key and value
   * bytes (a view, valid during the call), until it returns `false`. `visit`
   * must not change the map.
   *
   * @param from a cursor returned by an earlier call on the unchanged map
   * @returns a cursor to go on from, or `undefined` once every entry was visited
   */
  forEach(visit: (key: Key, value: Uint8Array) => boolean | void, from = 0): number | undefined {
    for (let entry = from; entry < this.#entries; entry++) {
      if (this.#page[entry] !== DELETED && visit(this.#keyOf(entry), this.#valueOf(entry)) === false) {
        return entry + 1 < this.#entries ? entry + 1 : undefined;
      }
    }
    return undefined;
  }

  /** An independent copy, made with a few memory copies (for snapshots). */
  copy(): CompactMap {
    const copy = new CompactMap();
    copy.#pages = this.#pages.map((page, i) => i === this.#current ? page.slice(0, this.#fill) : page.slice());
    // Appends go to a fresh page: the copy of the current one was cut to its fill.
    copy.#current = copy.#pages.length;
    copy.#pages.push(new Uint8Array(FIRST_PAGE));
    copy.#used = this.#used;
    copy.#dead = this.#dead;
    copy.#page = this.#page.slice(0, Math.max(this.#entries, 1));
    copy.#at = this.#at.slice(0, Math.max(this.#entries, 1));
    copy.#hashes = this.#hashes.slice(0, Math.max(this.#entries, 1));
    copy.#entries = this.#entries;
    copy.#size = this.#size;
    copy.#slots = this.#slots.slice();
    return copy;
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

  /** Parses the record of `entry` into the `#r…` fields. */
  #read(entry: number): void {
    this.#parse(this.#pages[this.#page[entry]], this.#at[entry]);
  }

  /** Parses the record at `at` of `bytes` into the `#r…` fields. */
  #parse(bytes: Uint8Array, at: number): void {
    this.#rBytes = bytes;
    let head = 0, length = 0;
    for (let shift = 0;; shift += 7) {
      const b = bytes[at++];
      head += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    for (let shift = 0;; shift += 7) {
      const b = bytes[at++];
      length += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    this.#rKind = head & 3;
    this.#rKeyLength = (head - (head & 3)) / 4;
    this.#rValue = at + this.#rKeyLength;
    this.#rValueLength = length;
    this.#rEnd = this.#rValue + length;
  }

  #keyEquals(entry: number): boolean {
    this.#read(entry);
    return this.#key.equals(this.#rBytes, this.#rValue - this.#rKeyLength, this.#rKeyLength, this.#rKind);
  }

  #keyOf(entry: number): Key {
    this.#read(entry);
    return decodeKey(this.#rBytes, this.#rValue - this.#rKeyLength, this.#rKeyLength, this.#rKind);
  }

  #valueOf(entry: number): Uint8Array {
    this.#read(entry);
    return this.#rBytes.subarray(this.#rValue, this.#rEnd);
  }

  /** Writes a record of the encoded key and `value` and points `entry` at it. */
  #append(entry: number, value: Uint8Array): void {
    const keyLength = this.#key.length, head = keyLength * 4 + this.#key.kind;
    const size = varintSize(head) + varintSize(value.length) + keyLength + value.length;
    const page = this.#reserve(size);
    this.#page[entry] = page;
    const bytes = this.#pages[page];
    let at = this.#at[entry] = this.#lastAt;
    at = writeVarint(bytes, at, head);
    at = writeVarint(bytes, at, value.length);
    bytes.set(this.#key.bytes.subarray(0, keyLength), at);
    bytes.set(value, at + keyLength);
  }

  /** Finds room for a record of `size` bytes; returns its page (and sets `#lastAt`). */
  #reserve(size: number): number {
    this.#used += size;
    if (size > PAGE / 2) {
      this.#pages.push(new Uint8Array(size));
      this.#lastAt = 0;
      return this.#pages.length - 1;
    }
    let page = this.#pages[this.#current];
    if (this.#fill + size > page.length) {
      if (page.length < PAGE) {
        // The first page grows to a full one: small tables stay small.
        let length = page.length * 2;
        while (length < this.#fill + size) length *= 2;
        const grown = new Uint8Array(Math.min(length, PAGE));
        if (this.#fill + size <= grown.length) {
          grown.set(page.subarray(0, this.#fill));
          page = this.#pages[this.#current] = grown;
        }
      }
      if (this.#fill + size > page.length) {
        this.#pages.push(new Uint8Array(PAGE));
        this.#current = this.#pages.length - 1;
        this.#fill = 0;
      }
    }
    this.#lastAt = this.#fill;
    this.#fill += size;
    return this.#current;
  }

  /** Empties a slot, moving later slots of the same probe run back (no tombstones). */
  #remove(slot: number): void {
    const slots = this.#slots, mask = slots.length - 1;
    const entry = slots[slot] - 1;
    this.#read(entry);
    this.#dead += this.#rEnd - this.#at[entry];
    this.#page[entry] = DELETED;
    this.#size--;
    while (this.#entries > 0 && this.#page[this.#entries - 1] === DELETED) this.#entries--;
    let hole = slot;
    for (let next = (slot + 1) & mask;; next = (next + 1) & mask) {
      const occupant = slots[next];
      if (occupant === 0) break;
      const home = this.#hashes[occupant - 1] & mask;
      // The occupant may move back to the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (!stays) {
        slots[hole] = occupant;
        hole = next;
      }
    }
    slots[hole] = 0;
  }

  /** Rewrites the arena and renumbers the entries once dead bytes or holes outweigh live ones. */
  #compactIfWasteful(): void {
    const holes = this.#entries - this.#size;
    const wasteful = (this.#dead > SLACK && this.#dead * 2 > this.#used) ||
      (holes > SLACK / 64 && holes > this.#size);
    if (!wasteful) return;
    const pages = this.#pages;
    const oldPage = this.#page, oldAt = this.#at, oldHashes = this.#hashes, oldEntries = this.#entries;
    this.#pages = [new Uint8Array(FIRST_PAGE)];
    this.#current =
      this.#fill =
      this.#used =
      this.#dead =
        0;
    const length = Math.max(64, Math.ceil(this.#size * 1.25));
    this.#page = new Uint32Array(length);
    this.#at = new Uint32Array(length);
    this.#hashes = new Uint32Array(length);
    let count = 0;
    for (let entry = 0; entry < oldEntries; entry++) {
      if (oldPage[entry] === DELETED) continue;
      // Parsed where it lies: #read would look it up through the new arrays.
      const bytes = pages[oldPage[entry]], at = oldAt[entry];
      this.#parse(bytes, at);
      const size = this.#rEnd - at;
      const page = this.#reserve(size);
      this.#pages[page].set(bytes.subarray(at, at + size), this.#lastAt);
      this.#page[count] = page;
      this.#at[count] = this.#lastAt;
      this.#hashes[count++] = oldHashes[entry];
    }
    for (const array of [oldPage, oldAt, oldHashes]) release(array);
    this.#entries = count;
    let capacity = 128;
    while (capacity < this.#size * 2) capacity *= 2;
    this.#rehash(capacity);
  }

  #rehash(capacity: number): void {
    const slots = new Int32Array(capacity), mask = capacity - 1;
    for (let entry = 0; entry < this.#entries; entry++) {
      if (this.#page[entry] === DELETED) continue;
      let slot = this.#hashes[entry] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    release(this.#slots);
    this.#slots = slots;
  }

  #growEntries(length: number): void {
    this.#page = grown(this.#page, length);
    this.#at = grown(this.#at, length);
    this.#hashes = grown(this.#hashes, length);
  }
}

/*
 * A replaced array of a big map (tens of megabytes) would stay resident until the next full garbage
 * collection, which an idle server may not run for long. With ArrayBuffer.prototype.transfer (Deno;
 * Node from 22; Node 20 lacks it) the old memory is given back at once.
 */
type MaybeTransferable = { transfer?(length: number): ArrayBuffer };

/** `array` with room for `length` items. */
function grown(array: Uint32Array<ArrayBuffer>, length: number): Uint32Array<ArrayBuffer> {
  const buffer = array.buffer as MaybeTransferable;
  if (buffer.transfer) return new Uint32Array(buffer.transfer(length * Uint32Array.BYTES_PER_ELEMENT));
  const copy = new Uint32Array(length);
  copy.set(array);
  return copy;
}

/** Gives an array's memory back now; the array is empty afterwards. */
function release(array: Uint32Array | Int32Array): void {
  (array.buffer as MaybeTransferable).transfer?.(0);
}

/** Bytes the LEB128 varint of `n` takes. */
function varintSize(n: number): number {
  let size = 1;
  for (; n >= 0x80; n = Math.floor(n / 0x80)) size++;
  return size;
}

/** Writes the LEB128 varint of `n` at `at`; returns the offset after it. */
function writeVarint(bytes: Uint8Array, at: number, n: number): number {
  for (; n >= 0x80; n = Math.floor(n / 0x80)) bytes[at++] = (n & 0x7f) | 0x80;
  bytes[at++] = n;
  return at;
}
