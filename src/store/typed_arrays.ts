/**
 * Helpers of {@link CompactMap}'s typed arrays: resizing and releasing them,
 * and the LEB128 varints of its records.
 *
 * @module
 */

/*
 * A replaced array of a big map (tens of megabytes) would stay resident until the next full garbage
 * collection, which an idle server may not run for long. With ArrayBuffer.prototype.transfer (Deno;
 * Node from 22; Node 20 lacks it) the old memory is given back at once.
 */
type MaybeTransferable = { transfer?(length: number): ArrayBuffer };

/** `array` resized to `length` items: the new ones zero, or the last ones cut off. */
export function resized<T extends Uint32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(array: T, length: number): T {
  const Type = array.constructor as new (lengthOrBuffer: number | ArrayBuffer) => T;
  const buffer = array.buffer as MaybeTransferable;
  if (buffer.transfer) return new Type(buffer.transfer(length * array.BYTES_PER_ELEMENT));
  const copy = new Type(length);
  copy.set(array.length > length ? array.subarray(0, length) : array);
  return copy;
}

let released = 0;

/** Gives an array's memory back now; the array is empty afterwards. */
export function release(array: Uint8Array | Uint32Array | Int32Array | Float64Array): void {
  const buffer = array.buffer as MaybeTransferable & ArrayBuffer;
  if (!buffer.transfer) return;
  released += buffer.byteLength;
  buffer.transfer(0);
}

/**
 * Bytes {@link release} gave back since the last call (the active expiry asks the allocator to return
 * them to the system once they add up).
 */
export function takeReleased(): number {
  const bytes = released;
  released = 0;
  return bytes;
}

/** Bytes the LEB128 varint of `n` takes. */
export function varintSize(n: number): number {
  let size = 1;
  for (; n >= 0x80; n = Math.floor(n / 0x80)) size++;
  return size;
}

/** Writes the LEB128 varint of `n` at `at`; returns the offset after it. */
export function writeVarint(bytes: Uint8Array, at: number, n: number): number {
  for (; n >= 0x80; n = Math.floor(n / 0x80)) bytes[at++] = (n & 0x7f) | 0x80;
  bytes[at++] = n;
  return at;
}
