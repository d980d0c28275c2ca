/**
 * The paged byte arena of {@link CompactMap}: where its records live.
 *
 * - Records `[key length × 4 + key kind][value length][key][value]` (the two
 *   numbers as LEB128 varints: 2 bytes for short keys and values) are
 *   appended to an arena of 1 MiB pages (allocated one at a time, so growing
 *   never copies). Records never straddle two pages; a record over half a
 *   page gets a page of its own. The first page of a new arena is small and
 *   grows to a full one, so small tables stay small.
 * - The arena only appends: the map decides which records are dead (counted
 *   in {@link RecordArena.dead}) and when to compact. A compaction sends
 *   later appends to a new page ({@link RecordArena.startPage}), copies the
 *   live records there a few at a time, then drops the pages before it
 *   ({@link RecordArena.dropBefore}). Page numbers are never reused: page
 *   `n` is `pages[n - base]`, so the numbers entries hold stay valid.
 *
 * @module
 */
import { decodeKey, type KeyBytes, LATIN1 } from "./dict_key.ts";
import { varintSize, writeVarint } from "./typed_arrays.ts";
import type { Key } from "./values.ts";

/** Size of a full arena page, and of the first page of a new arena. */
const PAGE = 1 << 20, FIRST_PAGE = 256;

/** Pages of records, and a reader of one record at a time (the fields `bytes` … `end`). */
export class RecordArena {
  /** The pages. */
  pages: Uint8Array[] = [new Uint8Array(FIRST_PAGE)];
  /** The number of `pages[0]`: the pages before it were dropped by compactions. */
  base = 0;
  /** The page records are appended to (an index into {@link pages}), and its bytes in use. */
  current = 0;
  fill = 0;
  /** Offset of the space the last {@link reserve} found. */
  lastAt = 0;
  /** Record bytes written, live or dead; and those of records no entry points at (kept by the map). */
  used = 0;
  dead = 0;
  // The record parsed last: its page, key kind, key length, value offset and length, end.
  bytes: Uint8Array = this.pages[0];
  kind = LATIN1;
  keyLength = 0;
  value = 0;
  valueLength = 0;
  end = 0;

  /** Parses the record at `at` of page `page`. */
  read(page: number, at: number): void {
    this.parse(this.pages[page - this.base], at);
  }

  /** The bytes of page number `page`. */
  bytesOf(page: number): Uint8Array {
    return this.pages[page - this.base];
  }

  /** Parses the record at `at` of `bytes` (a page of this arena or of another). */
  parse(bytes: Uint8Array, at: number): void {
    this.bytes = bytes;
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
    this.kind = head & 3;
    this.keyLength = (head - (head & 3)) / 4;
    this.value = at + this.keyLength;
    this.valueLength = length;
    this.end = this.value + length;
  }

  /** Whether the key of the record parsed last is `key`. */
  keyEquals(key: KeyBytes): boolean {
    return key.equals(this.bytes, this.value - this.keyLength, this.keyLength, this.kind);
  }

  /** The key of the record parsed last. */
  key(): Key {
    return decodeKey(this.bytes, this.value - this.keyLength, this.keyLength, this.kind);
  }

  /** The value bytes of the record parsed last (a view). */
  valueBytes(): Uint8Array {
    return this.bytes.subarray(this.value, this.end);
  }

  /** Writes a record of the encoded `key` and `value`; returns its page (its offset is {@link lastAt}). */
  append(key: KeyBytes, value: Uint8Array): number {
    const keyLength = key.length, head = keyLength * 4 + key.kind;
    const size = varintSize(head) + varintSize(value.length) + keyLength + value.length;
    const page = this.reserve(size);
    const bytes = this.pages[page - this.base];
    let at = this.lastAt;
    at = writeVarint(bytes, at, head);
    at = writeVarint(bytes, at, value.length);
    bytes.set(key.bytes.subarray(0, keyLength), at);
    bytes.set(value, at + keyLength);
    return page;
  }

  /** Copies the record at `at` of `bytes` (a page of another arena); returns its page here (offset {@link lastAt}). */
  copyRecord(bytes: Uint8Array, at: number): number {
    this.parse(bytes, at);
    const size = this.end - at;
    const page = this.reserve(size);
    this.pages[page - this.base].set(bytes.subarray(at, at + size), this.lastAt);
    return page;
  }

  /** Finds room for a record of `size` bytes; returns its page's number (and sets {@link lastAt}). */
  reserve(size: number): number {
    this.used += size;
    if (size > PAGE / 2) {
      this.pages.push(new Uint8Array(size));
      this.lastAt = 0;
      return this.base + this.pages.length - 1;
    }
    let page = this.pages[this.current];
    if (this.fill + size > page.length) {
      if (page.length < PAGE) {
        // The first page grows to a full one: small tables stay small.
        let length = page.length * 2;
        while (length < this.fill + size) length *= 2;
        const grown = new Uint8Array(Math.min(length, PAGE));
        if (this.fill + size <= grown.length) {
          grown.set(page.subarray(0, this.fill));
          page = this.pages[this.current] = grown;
        }
      }
      if (this.fill + size > page.length) {
        this.pages.push(new Uint8Array(PAGE));
        this.current = this.pages.length - 1;
        this.fill = 0;
      }
    }
    this.lastAt = this.fill;
    this.fill += size;
    return this.base + this.current;
  }

  /**
   * Sends later appends to a new (small, growing) page.
   *
   * @returns its number: the pages numbered below it get no more records
   */
  startPage(): number {
    this.pages.push(new Uint8Array(FIRST_PAGE));
    this.current = this.pages.length - 1;
    this.fill = 0;
    return this.base + this.current;
  }

  /**
   * Drops the pages numbered below `page` (no entry points into them any more).
   *
   * @returns the dropped pages (for the map to give their memory back when no view into them is left)
   */
  dropBefore(page: number): Uint8Array[] {
    const dropped = this.pages.splice(0, page - this.base);
    this.current -= page - this.base;
    this.base = page;
    return dropped;
  }

  /** An independent copy, made with a memory copy per page (for snapshots). */
  copy(): RecordArena {
    const copy = new RecordArena();
    copy.pages = this.pages.map((page, i) => i === this.current ? page.slice(0, this.fill) : page.slice());
    copy.base = this.base;
    // Appends go to a fresh page: the copy of the current one was cut to its fill.
    copy.current = copy.pages.length;
    copy.pages.push(new Uint8Array(FIRST_PAGE));
    copy.used = this.used;
    copy.dead = this.dead;
    return copy;
  }

  /** Saves where the arena stands; the returned function puts it back (the pages' bytes are not copied). */
  save(): () => void {
    const pages = this.pages, base = this.base, current = this.current, fill = this.fill;
    const used = this.used, dead = this.dead;
    return () => {
      this.pages = pages;
      this.base = base;
      this.current = current;
      this.fill = fill;
      this.used = used;
      this.dead = dead;
    };
  }
}
