/**
 * The open-addressing slot table of {@link CompactMap}: lookup is linear
 * probing over entry numbers.
 *
 * - A slot holds entry + 1, or 0 when it is empty; the table's length is a
 *   power of two and the map keeps it at least twice its size.
 * - An entry's home slot is its key's hash masked by the length; `hashes`
 *   maps entry → hash, so rehashing never looks at the keys.
 * - Deletion moves later slots of the same probe run back (backward shift):
 *   there are no tombstones, so a probe always ends at an empty slot.
 *
 * @module
 */

/** The slot of a live entry (it must be in the table). */
export function slotOf(slots: Int32Array, hashes: Uint32Array, entry: number): number {
  const mask = slots.length - 1;
  for (let slot = hashes[entry] & mask;; slot = (slot + 1) & mask) {
    if (slots[slot] === entry + 1) return slot;
  }
}

/** Empties a slot, moving later slots of the same probe run back (no tombstones). */
export function emptySlot(slots: Int32Array, hashes: Uint32Array, slot: number): void {
  const mask = slots.length - 1;
  let hole = slot;
  for (let next = (slot + 1) & mask;; next = (next + 1) & mask) {
    const occupant = slots[next];
    if (occupant === 0) break;
    const home = hashes[occupant - 1] & mask;
    // The occupant may move back to the hole unless its home lies cyclically in (hole, next].
    const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
    if (!stays) {
      slots[hole] = occupant;
      hole = next;
    }
  }
  slots[hole] = 0;
}

/**
 * A table of `capacity` slots (a power of two) holding entries `0 … entries - 1`
 * except those whose `page` is `deleted`.
 */
export function buildSlots(
  capacity: number,
  entries: number,
  hashes: Uint32Array,
  page: Uint32Array,
  deleted: number,
): Int32Array<ArrayBuffer> {
  const slots = new Int32Array(capacity), mask = capacity - 1;
  for (let entry = 0; entry < entries; entry++) {
    if (page[entry] === deleted) continue;
    let slot = hashes[entry] & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = entry + 1;
  }
  return slots;
}
