/**
 * Framing: every message on the wire is a 4-byte big-endian length followed
 * by that many bytes. Pure code over bytes, no I/O.
 *
 * @module
 */
import { FrameTooLargeError } from "../errors.ts";

/** The default largest frame body either side accepts: 64 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 4;

/**
 * Cuts a byte stream into frames. Push chunks as they arrive, then call
 * {@link FrameDecoder.next} until it returns `undefined`.
 */
export class FrameDecoder {
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  /** The largest frame body accepted; a larger header throws `FRAME_TOO_LARGE`. */
  maxFrameSize: number;

  /** @param maxFrameSize the largest frame body accepted */
  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends received bytes. Frames returned earlier by {@link next} are
   * invalid after this call (their memory may be reused).
   *
   * @param chunk bytes from the connection; copied, so the caller may reuse it
   */
  push(chunk: Uint8Array): void {
    const pending = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buffer.length) {
      const needed = pending + chunk.length;
      if (needed <= this.#buffer.length && this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = pending;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Returns the next complete frame body, or `undefined` when more bytes are
   * needed. The body is a view valid until the next {@link push}.
   *
   * @throws {FrameTooLargeError} when a header announces a body over the limit
   */
  next(): Uint8Array | undefined {
    const available = this.#end - this.#start;
    if (available < FRAME_HEADER_SIZE) return this.#reset(available);
    const b = this.#buffer, s = this.#start;
    const length = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
    if (length > this.maxFrameSize) {
      throw new FrameTooLargeError(
        `a frame of ${length} bytes exceeds the limit of ${this.maxFrameSize} bytes; ` +
          `store smaller values or raise maxFrameSize on both sides`,
      );
    }
    if (available < FRAME_HEADER_SIZE + length) return undefined;
    const body = b.subarray(
      s + FRAME_HEADER_SIZE,
      s + FRAME_HEADER_SIZE + length,
    );
    this.#start += FRAME_HEADER_SIZE + length;
    return body;
  }

  #reset(available: number): undefined {
    if (available === 0) this.#start = this.#end = 0;
    return undefined;
  }
}

/**
 * Collects frame bodies and joins them, with their headers, into one buffer,
 * so that everything queued in one event-loop turn leaves in one write.
 */
export class FrameBatch {
  #bodies: Uint8Array[] = [];
  #size = 0;

  /** Number of bytes the joined batch will have, headers included. */
  get size(): number {
    return this.#size;
  }

  /** Number of frames queued. */
  get count(): number {
    return this.#bodies.length;
  }

  /** @param body a frame body; it must not change until {@link take} is called */
  add(body: Uint8Array): void {
    this.#bodies.push(body);
    this.#size += FRAME_HEADER_SIZE + body.length;
  }

  /**
   * Joins queued frames, with their headers, into one buffer and removes them
   * from the batch.
   *
   * @param maxBytes stop before a frame that would take the result over this size (at least one frame is taken)
   * @returns the joined frames
   */
  take(maxBytes: number = Infinity): Uint8Array<ArrayBuffer> {
    let count = 0, size = 0;
    for (const body of this.#bodies) {
      const next = size + FRAME_HEADER_SIZE + body.length;
      if (count > 0 && next > maxBytes) break;
      size = next;
      count++;
    }
    const out = allocate(size);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const body = this.#bodies[i];
      writeHeader(out, at, body.length);
      out.set(body, at + FRAME_HEADER_SIZE);
      at += FRAME_HEADER_SIZE + body.length;
    }
    if (count === this.#bodies.length) this.#bodies.length = 0;
    else this.#bodies = this.#bodies.slice(count);
    this.#size -= size;
    return out;
  }
}

/**
 * Wraps one body in a frame.
 *
 * @param body the frame body
 * @returns header and body in one buffer
 */
export function encodeFrame(body: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = allocate(FRAME_HEADER_SIZE + body.length);
  writeHeader(out, 0, body.length);
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

/** Buffers up to this size are cut from a shared slab rather than allocated one by one. */
const SLAB_LIMIT = 4096;
const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(0);
let slabAt = 0;

/**
 * A new buffer for bytes to write. Small ones are views of a shared 64 KiB
 * slab, never handed out twice (the slab is dropped when full, and freed once
 * its last view is): one allocation for many small writes instead of one
 * each, and memory the runtime can pass to the socket without moving it
 * first (a small typed array lives in the JavaScript heap; a socket write
 * needs it outside).
 */
function allocate(size: number): Uint8Array<ArrayBuffer> {
  if (size > SLAB_LIMIT) return new Uint8Array(size);
  if (slabAt + size > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + size);
  slabAt = (slabAt + size + 7) & ~7;
  return out;
}

function writeHeader(out: Uint8Array, at: number, length: number): void {
  out[at] = length >>> 24;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
}
