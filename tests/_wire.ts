/**
 * Test fixture: a raw TCP connection to a cyberdb server that speaks the
 * wire format by hand — frames, the handshake (through the real functions
 * of `src/crypto/handshake.ts`), encrypted records — so a test can send
 * bytes no real client would, and see exactly what comes back.
 *
 * @module
 */
import { ClientHandshake } from "../src/crypto/handshake.ts";
import { RecordOpener, RecordSealer } from "../src/crypto/record.ts";
import { decode, encode, WRAPPED_DEPTH } from "../src/protocol/codec.ts";
import type { ServerHello } from "../src/protocol/messages.ts";
import { type Conn, runtime } from "../src/runtime/mod.ts";

/** Wraps a body in a frame: 4-byte big-endian length, then the body. */
export function frame(body: Uint8Array, length: number = body.length): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, length >>> 0);
  out.set(body, 4);
  return out;
}

/** Joins byte strings. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Cuts a byte stream into frame bodies. */
class Frames {
  #buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);

  push(bytes: Uint8Array): void {
    this.#buffer = concat([this.#buffer, bytes]);
  }

  next(): Uint8Array<ArrayBuffer> | undefined {
    if (this.#buffer.length < 4) return undefined;
    const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0);
    if (this.#buffer.length < 4 + length) return undefined;
    const body = this.#buffer.slice(4, 4 + length);
    this.#buffer = this.#buffer.slice(4 + length);
    return body;
  }
}

/** Thrown when the server sent nothing more within the time allowed. */
export class WireTimeout extends Error {}

/** Whether a failed write means that the peer went away (reset, broken pipe, closed), in Deno or Node. */
export function isPeerGone(error: unknown): boolean {
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  return ["BrokenPipe", "ConnectionReset", "BadResource"].includes(name ?? "") ||
    ["EPIPE", "ECONNRESET", "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END"].includes(code ?? "") ||
    /connection (is )?closed/.test(message ?? "");
}

/** A raw connection to a server. Every read has a deadline; a late read closes the connection. */
export class RawConn {
  readonly conn: Conn;
  #frames = new Frames();
  #records = new Frames();
  #sealer: RecordSealer | undefined;
  #opener: RecordOpener | undefined;
  #eof = false;
  #closed = false;

  private constructor(conn: Conn) {
    this.conn = conn;
  }

  /** Connects to a server on loopback. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawConn> {
    return new RawConn(await runtime.connect({ hostname, port }));
  }

  /** Whether the peer closed its side (end of stream was read). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Writes bytes as they are. Rejects when the server is gone. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.conn.write(bytes);
  }

  /**
   * Sends request bodies as frames: as they are, or, after an encrypted
   * handshake, sealed together in one record.
   */
  async sendFrames(bodies: readonly Uint8Array[]): Promise<void> {
    const frames = concat(bodies.map((b) => frame(b)));
    await this.write(this.#sealer ? frame(await this.#sealer.seal(frames)) : frames);
  }

  /** Sends one encoded request, like {@link sendFrames}. */
  send(message: unknown): Promise<void> {
    return this.sendFrames([encode(message)]);
  }

  /**
   * Reads the next frame body (decrypted, once encrypted).
   *
   * @returns the body, or `null` when the server closed the connection first
   * @throws {WireTimeout} when nothing complete arrived within `timeout` ms (the connection is then closed)
   */
  async readFrame(timeout = 5_000): Promise<Uint8Array | null> {
    const deadline = performance.now() + timeout;
    for (;;) {
      const body = this.#frames.next();
      if (body) return body;
      if (this.#opener) {
        const record = this.#records.next();
        if (record) {
          this.#frames.push(await this.#opener.open(record));
          continue;
        }
      }
      const chunk = await this.#read(deadline - performance.now());
      if (chunk === null) return null;
      (this.#opener ? this.#records : this.#frames).push(chunk);
    }
  }

  /** Reads and decodes the next message; `null` when the server closed first. */
  async read(timeout = 5_000): Promise<unknown> {
    const body = await this.readFrame(timeout);
    return body === null ? null : decode(body, WRAPPED_DEPTH);
  }

  /**
   * Reads messages until the server closes the connection.
   *
   * @throws {WireTimeout} when it does not close within `timeout` ms
   */
  async readToEnd(timeout = 5_000): Promise<unknown[]> {
    const deadline = performance.now() + timeout;
    const messages = [];
    for (;;) {
      const message = await this.read(Math.max(1, deadline - performance.now()));
      if (message === null) return messages;
      messages.push(message);
    }
  }

  /**
   * Plays the client's side of the handshake with the real handshake
   * functions, switching to encrypted records when asked.
   *
   * @returns the server's hello
   * @throws {CyberDBError} when the server refuses
   */
  async handshake(
    options: { password?: string; encrypt?: boolean; minIterations?: number },
    timeout = 5_000,
  ): Promise<ServerHello> {
    const first = await this.readFrame(timeout);
    if (first === null) throw new WireTimeout("the server closed before its hello");
    const hello = decode(first) as ServerHello;
    const handshake = new ClientHandshake({ ...options, encrypt: options.encrypt ?? false });
    for (let frame: Uint8Array | null = first; frame !== null; frame = await this.readFrame(timeout)) {
      const step = await handshake.receive(frame);
      if (step.send) await this.sendFrames([step.send]);
      if (!step.done) continue;
      if (step.secrets) {
        this.#sealer = await RecordSealer.create(step.secrets.clientToServer);
        this.#opener = await RecordOpener.create(step.secrets.serverToClient);
      }
      return hello;
    }
    throw new WireTimeout("the server closed during the handshake");
  }

  /** Closes the sending side only: the server reads end of stream, and can still answer. */
  async closeWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch {
      // already closed
    }
  }

  /** Closes the connection. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
  }

  async #read(timeout: number): Promise<Uint8Array | null> {
    if (this.#eof || this.#closed) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), timeout));
    try {
      const chunk = await Promise.race([
        this.conn.read().catch((error) => {
          if (this.#closed || isPeerGone(error)) return null;
          throw error;
        }),
        expired,
      ]);
      if (chunk === "timeout") {
        this.close();
        throw new WireTimeout(`nothing from the server within ${Math.round(timeout)} ms`);
      }
      if (chunk === null) {
        this.#eof = true;
        return null;
      }
      return chunk.slice();
    } finally {
      clearTimeout(timer);
    }
  }
}
