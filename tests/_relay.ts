/**
 * Test fixture: a TCP relay on a free loopback port that forwards bytes
 * between clients and a server, both ways, and lets a test see, change,
 * drop or inject what passes in each direction — a man in the middle.
 *
 * By default each direction is cut into frames (4-byte big-endian length +
 * body, header included in what the hook sees), which is what cyberdb sends:
 * handshake frames first, then, when encrypted, one frame per AES-GCM record.
 * With `framed: false` the hook sees raw chunks as they were read.
 *
 * @module
 */
import { type Conn, type Listener, runtime } from "../src/runtime/mod.ts";

/** Which way bytes travel through the relay. */
export type Direction = "toServer" | "toClient";

/**
 * Sees each frame (or chunk) before it is forwarded. Return nothing to
 * forward it unchanged, other bytes to forward those instead, or `null` to drop it.
 */
export type Intercept = (
  bytes: Uint8Array,
  direction: Direction,
  link: RelayLink,
) => Uint8Array | null | void;

/** Options of {@link Relay.start}. */
export interface RelayOptions {
  /** The server's host. Default `"127.0.0.1"`. */
  hostname?: string;
  /** The server's port. */
  port: number;
  /** Cut the streams into length-prefixed frames for the hook (default), or pass raw chunks. */
  framed?: boolean;
  /** The hook; can also be set later with {@link Relay.intercept}. */
  intercept?: Intercept;
}

const FRAME_HEADER = 4;

/** One client connection through the relay and its connection to the server. */
export class RelayLink {
  /** 0 for the first connection accepted, then 1, 2, … */
  readonly index: number;
  /** Copies of every frame (or chunk) received, per direction, before the hook changed anything. */
  readonly seen: Record<Direction, Uint8Array[]> = { toServer: [], toClient: [] };
  /** Resolves when that direction's source ended (the peer closed or reset). */
  readonly ended: Record<Direction, Promise<void>>;
  /** Resolves once both directions ended and both sockets are closed. */
  readonly done: Promise<void>;
  #client: Conn;
  #server: Conn;
  #writes: Record<Direction, Promise<void>> = { toServer: Promise.resolve(), toClient: Promise.resolve() };
  #closed = false;
  #relay: Relay;

  constructor(index: number, client: Conn, server: Conn, relay: Relay, framed: boolean) {
    this.index = index;
    this.#client = client;
    this.#server = server;
    this.#relay = relay;
    const toServer = this.#pump("toServer", client, server, framed);
    const toClient = this.#pump("toClient", server, client, framed);
    this.ended = { toServer, toClient };
    this.done = Promise.all([toServer, toClient]).then(() => this.close());
  }

  /** Whether the relay closed both sockets of this link. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends bytes as they are, in order with what the relay forwards in that
   * direction. Resolves once written; rejects if the destination is gone.
   */
  inject(direction: Direction, bytes: Uint8Array): Promise<void> {
    return this.#write(direction, bytes);
  }

  /** Closes both sockets of this link. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [this.#client, this.#server]) conn.close();
  }

  #write(direction: Direction, bytes: Uint8Array): Promise<void> {
    const destination = direction === "toServer" ? this.#server : this.#client;
    const written = this.#writes[direction].then(() => destination.write(bytes));
    this.#writes[direction] = written.catch(() => {});
    return written;
  }

  async #pump(direction: Direction, source: Conn, destination: Conn, framed: boolean): Promise<void> {
    let pending = new Uint8Array(0);
    try {
      for (let chunk = await source.read(); chunk !== null; chunk = await source.read()) {
        if (!framed) {
          await this.#forward(direction, chunk.slice());
          continue;
        }
        const joined = new Uint8Array(pending.length + chunk.length);
        joined.set(pending);
        joined.set(chunk, pending.length);
        let at = 0;
        while (joined.length - at >= FRAME_HEADER) {
          const length = new DataView(joined.buffer, at).getUint32(0);
          if (joined.length - at < FRAME_HEADER + length) break;
          await this.#forward(direction, joined.slice(at, at + FRAME_HEADER + length));
          at += FRAME_HEADER + length;
        }
        pending = joined.slice(at);
      }
      // A partial frame at the end of the stream goes on as it is.
      if (pending.length > 0) await this.#write(direction, pending);
      await this.#writes[direction];
      try {
        await destination.closeWrite();
      } catch {
        // the destination is gone already
      }
    } catch {
      // A reset or a failed write: end the whole link, as a real network would.
      this.close();
    }
  }

  async #forward(direction: Direction, bytes: Uint8Array): Promise<void> {
    this.seen[direction].push(bytes.slice());
    const hook = this.#relay.intercept;
    const out = hook ? hook(bytes, direction, this) : undefined;
    if (out === null) return;
    await this.#write(direction, out ?? bytes);
  }
}

/**
 * A man-in-the-middle relay on 127.0.0.1, port 0.
 *
 * @example
 * ```ts
 * await using relay = await Relay.start({ port: serverPort });
 * const client = await connect({ port: relay.port, password, encrypt: true });
 * relay.intercept = (bytes, direction) => direction === "toServer" ? flipBit(bytes) : undefined;
 * ```
 */
export class Relay implements AsyncDisposable {
  /** Where clients connect. */
  readonly hostname = "127.0.0.1";
  /** The relay's port. */
  readonly port: number;
  /** Every connection accepted, in order. */
  readonly links: RelayLink[] = [];
  /** The hook each frame (or chunk) passes through; `undefined` forwards everything. */
  intercept: Intercept | undefined;
  #listener: Listener;
  #target: { hostname: string; port: number };
  #framed: boolean;
  #accepting: Promise<void>;
  #closed = false;

  private constructor(listener: Listener, options: RelayOptions) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#target = { hostname: options.hostname ?? "127.0.0.1", port: options.port };
    this.#framed = options.framed ?? true;
    this.intercept = options.intercept;
    this.#accepting = this.#accept();
  }

  /** Starts listening on a free loopback port. */
  static async start(options: RelayOptions): Promise<Relay> {
    return new Relay(await runtime.listen({ hostname: "127.0.0.1", port: 0 }), options);
  }

  /**
   * Waits until at least `count` connections were accepted (and connected on to the server).
   *
   * @throws {Error} after `timeout` ms
   */
  async waitForLinks(count: number, timeout = 5_000): Promise<RelayLink[]> {
    const deadline = performance.now() + timeout;
    while (this.links.length < count) {
      if (performance.now() > deadline) {
        throw new Error(`the relay accepted ${this.links.length} connections, not ${count}, within ${timeout} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.links;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Conn | null;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      if (client === null) return; // closed
      let server: Conn;
      try {
        server = await runtime.connect(this.#target);
      } catch {
        client.close();
        continue;
      }
      if (this.#closed) {
        client.close();
        server.close();
        return;
      }
      this.links.push(new RelayLink(this.links.length, client, server, this, this.#framed));
    }
  }

  /** Stops listening and closes every link. Safe to call more than once. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#listener.close();
    }
    await this.#accepting;
    for (const link of this.links) link.close();
    await Promise.all(this.links.map((link) => link.done));
  }

  /** Same as {@link Relay.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
