/**
 * One pipelined client connection: each request gets an id and joins the
 * write queue (everything queued in one turn leaves in one write); replies
 * arrive in order and settle their promises in order.
 *
 * @module
 */
import {
  BadRequestError,
  ConnectionClosedError,
  CyberDBError,
  errorFromCode,
  FrameTooLargeError,
  TimeoutError,
} from "../../errors.ts";
import { Channel } from "../../protocol/channel.ts";
import { decode, encodeRequest, WRAPPED_DEPTH } from "../../protocol/codec.ts";
import { decodeSmall, encodeSmallRequest } from "../../protocol/small_messages.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../../protocol/frame.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_PORT,
  type OpName,
  REPLY_OK,
  WATCH_END,
  WATCH_EVENT,
} from "../../protocol/messages.ts";
import type { WatchSink, WatchTarget } from "../../client/watch.ts";
import { handshake } from "./handshake.ts";
import type { TimerId, TlsVerification } from "../../runtime/mod.ts";
import { dial } from "./dial.ts";

/** Options of `connect()`. */
export interface ConnectOptions {
  /**
   * Server host.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Server port.
   *
   * @default {9980}
   */
  port?: number;
  /** Connect to the server's Unix domain socket at this path instead of TCP (`hostname` and `port` are then ignored). */
  path?: string;
  /**
   * Speak TLS to a server started with a certificate (`--tls-cert`), checking it against the system's
   * roots and `caCerts` (PEM: e.g. the private CA that signed it) for `hostname`. A `cyberdbs://` URL
   * sets `tls: {}`. Not over a Unix socket. An untrusted certificate rejects `connect()` with `TLS_FAILED`.
   */
  tls?: TlsVerification;
  /** The server's password, if it has one. */
  password?: string;
  /**
   * Require an encrypted connection.
   *
   * @default {false}
   */
  encrypt?: boolean;
  /**
   * Seal records with Web Crypto rather than the runtime's synchronous AES-256-GCM (`node:crypto`).
   * Same bytes on the wire, slower.
   *
   * @default {false} (`true` when `CYBERDB_WEBCRYPTO=1`)
   */
  webCrypto?: boolean;
  /**
   * Fewest PBKDF2 iterations accepted from a server's hello; a server asking for fewer is refused before
   * anything derived from the password is computed (servers use 600000).
   *
   * @default {100000}
   */
  minIterations?: number;
  /**
   * Milliseconds an unused pooled connection stays open (CyberDB's `time_out`).
   *
   * @default {60000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds a request may wait for its reply before it rejects with `TIMEOUT`; 0 waits forever.
   *
   * @default {0}
   */
  requestTimeout?: number;
  /**
   * Milliseconds to open and authenticate a connection before `TIMEOUT`.
   *
   * @default {10000}
   */
  connectTimeout?: number;
  /**
   * Largest request or reply frame in bytes.
   *
   * @default {64 * 1024 * 1024}
   */
  maxFrameSize?: number;
  /**
   * 0: every proxy leases a connection of its own. N > 0: proxies share at most N
   * connections, their requests multiplexed in order — fewer syscalls and round trips when many
   * short-lived proxies run at once, as in a web app. Each proxy's requests are still applied in
   * the order it made them; a slow request delays the others on its connection.
   *
   * @default {0}
   */
  sharedConnections?: number;
}

interface Pending {
  id: number;
  at: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** A connection to a cyberdb server, authenticated and ready for requests. */
export class Connection {
  #channel: Channel;
  #pending: Pending[] = [];
  #head = 0;
  #nextId = 1;
  #requestTimeout: number;
  #maxFrameSize: number;
  #timer: TimerId | undefined;
  #watches = new Map<number, WatchSink>();
  /** When the connection was last returned to the pool, for idle timeouts. */
  idleSince = 0;

  private constructor(channel: Channel, options: ConnectOptions) {
    this.#channel = channel;
    this.#requestTimeout = options.requestTimeout ?? 0;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    channel.onClose = (reason) => this.#failAll(reason);
    // Idle, the connection does not keep the process alive (requests in flight and open watches hold it).
    channel.conn.keepAlive(false);
    channel.readFrames((frame) => this.#onReply(frame))
      .then(() => channel.close(this.#closedError("the server closed the connection")))
      .catch((error) =>
        channel.close(
          error instanceof CyberDBError ? error : this.#closedError(error.message),
        )
      );
  }

  /**
   * Opens a connection and completes the handshake.
   *
   * @throws {CyberDBError} `AUTH_FAILED`, `ENCRYPTION_*`, `FORBIDDEN`, `TOO_MANY_CONNECTIONS`, `TIMEOUT`, `CONNECTION_CLOSED`
   */
  static async open(options: ConnectOptions): Promise<Connection> {
    const hostname = options.hostname ?? DEFAULT_HOSTNAME,
      port = options.port ?? DEFAULT_PORT,
      path = options.path;
    const where = path === undefined ? `${hostname}:${port}` : `unix socket ${path}`;
    const timeout = options.connectTimeout ?? 10_000;
    let timer: TimerId | undefined;
    let channel: Channel | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        channel?.close();
        reject(
          new TimeoutError(
            `connecting to ${where} took over ${timeout} ms`,
          ),
        );
      }, timeout);
    });
    try {
      const conn = await Promise.race([
        dial(options, hostname, port, where),
        expired,
      ]);
      channel = new Channel(
        conn,
        options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      );
      await Promise.race([
        handshake(channel, options, where),
        expired,
      ]);
      return new Connection(channel, options);
    } catch (error) {
      channel?.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the connection is closed (it cannot be used again). */
  get closed(): boolean {
    return this.#channel.closed;
  }

  /**
   * Sends one request; requests are applied in the order they are made.
   *
   * @returns the reply's value
   * @throws {CyberDBError} the server's error, `CONNECTION_CLOSED` or `TIMEOUT`
   */
  request(
    op: OpName,
    table: string,
    args: readonly unknown[],
  ): Promise<unknown> {
    if (this.#channel.closed) {
      return Promise.reject(this.#closedError("the connection is closed"));
    }
    const id = this.#nextId++;
    let body: Uint8Array;
    try {
      body = encodeSmallRequest(id, op, table, args) ?? encodeRequest(id, op, table, args);
    } catch (error) {
      return Promise.reject(error);
    }
    if (body.length > this.#maxFrameSize) {
      return Promise.reject(
        new FrameTooLargeError(
          `this ${op} request is ${body.length} bytes, over the frame limit of ${this.#maxFrameSize}; ` +
            `store smaller values or raise maxFrameSize on both sides`,
        ),
      );
    }
    if (this.#head === this.#pending.length) this.#channel.conn.keepAlive(true);
    return new Promise((resolve, reject) => {
      this.#pending.push({
        id,
        at: this.#requestTimeout > 0 ? performance.now() : 0,
        resolve,
        reject,
      });
      this.#channel.send(body);
      if (this.#requestTimeout > 0 && this.#timer === undefined) {
        this.#armTimer(this.#requestTimeout);
      }
    });
  }

  /** Number of watches open on this connection (the pool keeps such a connection open). */
  get watching(): number {
    return this.#watches.size;
  }

  /**
   * Starts a watch: the server pushes its events over this connection, each
   * `[id, WATCH_EVENT, change]` under the `watch` request's id, between the
   * replies; `[id, WATCH_END, code, message]` ends it.
   *
   * @param target the table (or `""`) and keys
   * @param sink gets the events (from before the reply on, so none is missed)
   * @returns stops the watch (sends `unwatch`; later events for it are dropped)
   * @throws {CyberDBError} `NO_SUCH_TABLE`, `WRONG_TYPE`, `CONNECTION_CLOSED`
   */
  async watch(target: WatchTarget, sink: WatchSink): Promise<() => void> {
    const id = this.#nextId;
    const spec = target.kind === undefined ? {} : { kind: target.kind, ...(target.keys && { keys: target.keys }) };
    // Registered before the request leaves: the server may push events before its reply.
    if (!this.#channel.closed) this.#watches.set(id, sink);
    try {
      await this.request("watch", target.table, [spec]);
    } catch (error) {
      if (this.#watches.get(id) === sink) this.#watches.delete(id);
      this.#keepAliveIfBusy();
      throw error;
    }
    return () => {
      if (this.#watches.get(id) !== sink) return;
      this.#watches.delete(id);
      this.request("unwatch", "", [id]).catch(() => {});
    };
  }

  /** Closes the connection; pending requests reject with `CONNECTION_CLOSED`. */
  close(): void {
    this.#channel.close(
      this.#closedError("the connection was closed by the client"),
    );
  }

  #onReply(frame: Uint8Array): void {
    const reply = decodeSmall(frame) ?? decode(frame, WRAPPED_DEPTH);
    if (Array.isArray(reply) && (reply[1] === WATCH_EVENT || reply[1] === WATCH_END) && reply[0] !== 0) {
      const sink = this.#watches.get(reply[0]);
      if (sink === undefined) return; // stopped here; the server had not yet seen the unwatch
      if (reply[1] === WATCH_EVENT) {
        const size = frame.length / (reply.length - 2);
        for (let i = 2; i < reply.length && this.#watches.get(reply[0]) === sink; i++) sink.push(reply[i], size);
        return;
      }
      this.#watches.delete(reply[0]);
      this.#keepAliveIfBusy();
      return sink.end(errorFromCode(String(reply[2]), String(reply[3])));
    }
    const pending = this.#pending[this.#head];
    if (
      !Array.isArray(reply) || pending === undefined || reply[0] !== pending.id
    ) {
      if (Array.isArray(reply) && reply[0] === 0 && reply[1] !== REPLY_OK) {
        // The server refused the frame at the head of the queue (replies come in
        // order) and hangs up: that request gets the server's error, the ones
        // behind it CONNECTION_CLOSED.
        const error = errorFromCode(String(reply[2]), String(reply[3]));
        if (pending !== undefined) {
          this.#pending[this.#head++] = undefined as unknown as Pending;
          pending.reject(error);
        }
        throw this.#closedError(`the server closed the connection (${error.message})`);
      }
      throw new BadRequestError(
        "the server sent a reply out of order; closing the connection",
      );
    }
    this.#pending[this.#head++] = undefined as unknown as Pending;
    if (this.#head === this.#pending.length) {
      this.#pending.length = 0;
      this.#head = 0;
      this.#keepAliveIfBusy();
    } else if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    if (reply[1] === REPLY_OK) pending.resolve(reply[2]);
    else pending.reject(errorFromCode(String(reply[2]), String(reply[3])));
  }

  /** Lets the connection keep the process alive only while a request is in flight or a watch is open. */
  #keepAliveIfBusy(): void {
    if (!this.#channel.closed) {
      this.#channel.conn.keepAlive(this.#head < this.#pending.length || this.#watches.size > 0);
    }
  }

  #armTimer(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const oldest = this.#pending[this.#head];
      if (oldest === undefined) return;
      const waited = performance.now() - oldest.at;
      if (waited < this.#requestTimeout) {
        return this.#armTimer(this.#requestTimeout - waited);
      }
      // Replies come in order: a late head means every request behind it is late too.
      this.#channel.close(
        new TimeoutError(
          `no reply within ${this.#requestTimeout} ms; the request may or may not have been applied`,
        ),
      );
    }, Math.max(1, delay));
  }

  #failAll(reason: Error): void {
    clearTimeout(this.#timer);
    const error = reason instanceof CyberDBError ? reason : this.#closedError(reason.message);
    const watches = [...this.#watches.values()];
    this.#watches.clear();
    for (const sink of watches) {
      sink.end(
        new ConnectionClosedError(
          `the connection closed (${error.message}); changes after this may have been missed: ` +
            `read the table again, then watch again`,
        ),
      );
    }
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    for (const { reject } of pending) reject(error);
  }

  #closedError(why: string): ConnectionClosedError {
    return new ConnectionClosedError(
      `${why}; a request in flight may or may not have been applied, and was not retried`,
    );
  }
}
