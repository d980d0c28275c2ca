/**
 * A framed, batching channel over one {@link Conn}: frames queued in one
 * event-loop turn leave in one write. Both the server's sessions and the
 * client's connections speak through it. It drives the connection it is
 * given and touches no runtime API itself.
 *
 * @module
 */
import { ConnectionClosedError } from "../errors.ts";
import type { Conn } from "../runtime/mod.ts";
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, FRAME_HEADER_SIZE, FrameBatch, FrameDecoder } from "./frame.ts";

/** Most frame bytes sealed into one encrypted record (a single larger frame gets a record of its own). */
const RECORD_TARGET = 1024 * 1024;

/**
 * Bytes one connection may read in a row before it lets the others run: a
 * socket that always has data ready resolves read after read without the
 * event loop turning, and four 15 MiB requests froze every other client for
 * 300-400 ms on loopback.
 */
const READ_BEFORE_YIELD = 1024 * 1024;

const RESOLVED = Promise.resolve();

/** Records being sealed at once while earlier ones are written. */
const MAX_SEALS_IN_FLIGHT = 4;

/** Seals the records an encrypted channel writes (`crypto/record.ts` implements it). */
export interface Sealer {
  /** Whether {@link Sealer.seal} returns the record itself rather than a promise. */
  readonly synchronous: boolean;
  /** Seals the next record; each call takes the next place in the record order. */
  seal(plaintext: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer>>;
}

/** Opens the records an encrypted channel reads (`crypto/record.ts` implements it). */
export interface Opener {
  /** Whether {@link Opener.open} returns the plaintext itself rather than a promise. */
  readonly synchronous: boolean;
  /** Bytes a record has beyond its plaintext. */
  readonly overhead: number;
  /** Opens the next record; throws or rejects when it fails to authenticate. */
  open(record: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer>>;
}

/** A framed channel over a connection. */
export class Channel {
  /** The connection underneath. */
  readonly conn: Conn;
  // Plain frames. Once encrypted, the bytes on the wire are records, cut by
  // #records, and #decoder cuts the decrypted records into frames.
  #decoder: FrameDecoder;
  /** Bytes read since this channel last let the other connections run (see {@link READ_BEFORE_YIELD}). */
  #readInARow = 0;
  #records: FrameDecoder | undefined;
  #sealer: Sealer | undefined;
  #opener: Opener | undefined;
  #batch = new FrameBatch();
  #writing: Promise<void> | undefined;
  #inFlight = 0;
  #scheduled = false;
  #closed = false;
  #onClose: ((reason: Error) => void) | undefined;

  /**
   * @param conn the connection to drive
   * @param maxFrameSize the largest frame body accepted from the peer
   */
  constructor(conn: Conn, maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.conn = conn;
    this.#decoder = new FrameDecoder(maxFrameSize);
  }

  /** Whether the channel is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued for writing and not yet handed to the connection. */
  get queuedBytes(): number {
    return this.#batch.size;
  }

  /** Bytes queued or being written: everything sent that the connection has not yet taken. */
  get unsentBytes(): number {
    return this.#batch.size + this.#inFlight;
  }

  /** Sets the function called once when the channel closes, with the reason. */
  set onClose(handler: (reason: Error) => void) {
    this.#onClose = handler;
  }

  /** Changes the largest frame accepted from the peer (small during the handshake). */
  set maxFrameSize(size: number) {
    this.#decoder.maxFrameSize = size;
    if (this.#records && this.#opener) this.#records.maxFrameSize = recordLimit(size, this.#opener);
  }

  /**
   * Encrypts everything from now on: each write becomes one sealed record,
   * and every record read must open under `opener`. Call it between frames,
   * with nothing queued (drain first).
   */
  encrypt(sealer: Sealer, opener: Opener): void {
    if (this.#batch.count > 0) {
      throw new Error("drain the channel before encrypting it");
    }
    this.#records = this.#decoder;
    this.#records.maxFrameSize = recordLimit(this.#decoder.maxFrameSize, opener);
    this.#decoder = new FrameDecoder(this.#decoder.maxFrameSize);
    this.#sealer = sealer;
    this.#opener = opener;
  }

  /**
   * Reads one frame, for the handshake.
   *
   * @returns a copy of the frame body, or `null` when the peer closed first
   * @throws {FrameTooLargeError} for a frame over the limit
   */
  async readFrame(): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.#decoder.next();
      if (frame) return frame.slice();
      if (!await this.#fill()) return null;
    }
  }

  /**
   * Reads frames until the peer closes, handing each to `onFrame`, then
   * calls `afterChunk` once per chunk read so replies can be batched, and
   * also after any frame for which `onFrame` returns `false` (back-pressure:
   * nothing more is read or handled until it resolves). Frames are views
   * valid only during the call.
   *
   * @throws {FrameTooLargeError} for a frame over the limit; other errors from the handlers propagate
   */
  async readFrames(
    onFrame: (frame: Uint8Array) => boolean | void,
    afterChunk?: () => Promise<void> | void,
  ): Promise<void> {
    for (;;) {
      for (let frame = this.#decoder.next(); frame; frame = this.#decoder.next()) {
        // `false`: the handler wants the replies so far out (afterChunk) before the next frame.
        if (onFrame(frame) === false && afterChunk) {
          const after = afterChunk();
          if (after) await after;
          if (this.#closed) return;
        }
      }
      // Awaited only when it returned a promise: replies sent at once cost no extra turn.
      const after = afterChunk?.();
      if (after) await after;
      if (this.#closed) return;
      if (this.#readInARow >= READ_BEFORE_YIELD) {
        this.#readInARow = 0;
        await new Promise((resolve) => setTimeout(resolve, 0)); // a macrotask: the event loop polls the others
        if (this.#closed) return;
      }
      const before = this.#decoder.buffered;
      if (this.#records === undefined) {
        // Plain: the chunk goes straight into the decoder (no #fill in between, one promise less per read).
        const chunk = await this.conn.read();
        if (chunk === null) return;
        this.#decoder.push(chunk);
      } else if (!await this.#fill()) return;
      this.#readInARow += this.#decoder.buffered - before;
    }
  }

  /**
   * Moves the next bytes from the connection into the frame decoder: a
   * chunk as read, or, once encrypted, the next whole record opened.
   *
   * @returns `false` at end of stream
   * @throws {ConnectionClosedError} for a record that fails to authenticate
   */
  async #fill(): Promise<boolean> {
    const records = this.#records, opener = this.#opener;
    if (records === undefined || opener === undefined) {
      const chunk = await this.conn.read();
      if (chunk === null) return false;
      this.#decoder.push(chunk);
      return true;
    }
    let record = records.next();
    while (record === undefined) {
      const chunk = await this.conn.read();
      if (chunk === null) return false;
      records.push(chunk);
      record = records.next();
    }
    if (opener.synchronous) {
      // The runtime's cipher: each record opens at once, straight from the read buffer.
      for (; record !== undefined; record = records.next()) {
        this.#decoder.push(opener.open(record as Uint8Array<ArrayBuffer>) as Uint8Array);
      }
      return true;
    }
    // Web Crypto: open every record already here at once (each call takes its nonce in order), then use them in order.
    const opening: Promise<Uint8Array>[] = [];
    for (; record !== undefined; record = records.next()) {
      const plaintext = opener.open(record.slice()) as Promise<Uint8Array>;
      plaintext.catch(() => {}); // observed below; the ones after a failure are dropped with the connection
      opening.push(plaintext);
    }
    for (const plaintext of opening) this.#decoder.push(await plaintext);
    return true;
  }

  /** Queues one frame; it is written with the others queued in the same turn. */
  send(body: Uint8Array): void {
    if (this.#closed) return;
    this.#batch.add(body);
    if (!this.#scheduled && this.#writing === undefined) {
      this.#scheduled = true;
      RESOLVED.then(this.#flush); // a microtask: Deno's queueMicrotask allocates more per call
    }
  }

  /** Resolves once everything queued so far is written (or the channel closed). */
  async drain(): Promise<void> {
    while (
      !this.#closed && (this.#writing !== undefined || this.#batch.count > 0)
    ) {
      this.#startWriting();
      await this.#writing;
    }
  }

  /**
   * Closes the connection; queued frames that were not written are dropped.
   *
   * @param reason why, passed to the close handler
   */
  close(
    reason: Error = new ConnectionClosedError("the connection was closed"),
  ): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
    this.#onClose?.(reason);
  }

  // The end of the turn in which frames were queued.
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#startWriting();
  };

  /**
   * Writes what is queued, one write at a time. Plain or with the runtime's cipher, the bytes
   * are joined (and sealed) at once and handed to the connection in this same call: no async
   * function, one promise per write; the next write starts when it resolves.
   */
  #startWriting(): void {
    if (this.#writing !== undefined || this.#closed || this.#batch.count === 0) return;
    const sealer = this.#sealer;
    if (sealer !== undefined && !sealer.synchronous) {
      this.#writing = this.#writeSealedLater(sealer).finally(() => {
        this.#writing = undefined;
        // A frame queued after the last seal saw an empty batch, but before this
        // callback ran, found #writing still set and scheduled nothing.
        if (this.#batch.count > 0) this.#startWriting();
      });
      return;
    }
    let bytes: Uint8Array;
    try {
      // At most about one record's worth per write, so the bytes being written stay counted (unsentBytes)
      // and replies are not all copied into one buffer at once.
      bytes = this.#batch.take(RECORD_TARGET);
      if (sealer !== undefined) bytes = encodeFrame(sealer.seal(bytes as Uint8Array<ArrayBuffer>) as Uint8Array);
    } catch (error) {
      this.#writeFailed(error);
      return;
    }
    this.#inFlight = bytes.length;
    let written: Promise<void>;
    try {
      written = this.conn.write(bytes);
    } catch (error) {
      written = Promise.reject(error);
    }
    this.#writing = written.then(this.#written, this.#writeFailed);
  }

  readonly #written = (): void => {
    this.#inFlight = 0;
    this.#writing = undefined;
    if (this.#batch.count > 0) this.#startWriting();
  };

  readonly #writeFailed = (error: unknown): void => {
    this.#inFlight = 0;
    this.#writing = undefined;
    this.close(new ConnectionClosedError(`write failed: ${(error as Error).message}`, { cause: error }));
  };

  /**
   * Web Crypto: seals the next batches while the previous record is being written; each seal
   * takes its nonce when called, so records leave in nonce order.
   */
  async #writeSealedLater(sealer: Sealer): Promise<void> {
    try {
      const sealing: Promise<Uint8Array<ArrayBuffer>>[] = [];
      const sealQueued = () => {
        while (this.#batch.count > 0 && sealing.length < MAX_SEALS_IN_FLIGHT) {
          const record = sealer.seal(this.#batch.take(RECORD_TARGET)) as Promise<Uint8Array<ArrayBuffer>>;
          record.catch(() => {}); // observed below, unless the connection closes first
          sealing.push(record);
        }
      };
      sealQueued();
      while (sealing.length > 0 && !this.#closed) {
        const record = encodeFrame(await sealing.shift()!);
        sealQueued();
        await this.#write(record);
        sealQueued();
      }
    } catch (error) {
      this.close(new ConnectionClosedError(`write failed: ${(error as Error).message}`, { cause: error }));
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#inFlight = bytes.length;
    try {
      await this.conn.write(bytes);
    } finally {
      this.#inFlight = 0;
    }
  }
}

function recordLimit(maxFrameSize: number, opener: Opener): number {
  return Math.max(maxFrameSize + FRAME_HEADER_SIZE, RECORD_TARGET) + opener.overhead;
}
