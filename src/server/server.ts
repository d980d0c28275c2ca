/**
 * The cyberdb server: listens, authenticates, serves the tables, and saves
 * them to snapshot files.
 *
 * @module
 */
import { PASSWORD_ITERATIONS, passwordKey, randomBytes, type ServerAuth } from "../crypto/handshake.ts";
import { ForbiddenError, TooManyConnectionsError } from "../errors.ts";
import { Channel } from "../protocol/channel.ts";
import { encode } from "../protocol/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../protocol/frame.ts";
import { type Conn, type Listener, runtime } from "../runtime/mod.ts";
import type { JournalOptions } from "../store/journal.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT, type ServerInfo } from "../protocol/messages.ts";
import { VERSION } from "../version.ts";
import { Persistence } from "../store/persistence.ts";
import { serveSession } from "./session.ts";
import { Store } from "../store/store.ts";
import { DEFAULT_WATCH_BUFFER } from "./watches.ts";
import { IpWhitelist, parseIp } from "./whitelist.ts";

/** Most concurrent connections when {@link StartOptions.maxConnections} is not given. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** Options of `new Server()`. */
export interface ServerOptions {
  /**
   * Log connections, refusals and snapshots to stderr (CyberDB's `print_log`).
   *
   * @default {false}
   */
  log?: boolean;
}

/** Options of {@link Server.start}. */
export interface StartOptions {
  /**
   * Address to listen on.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to listen on; 0 picks any free port.
   *
   * @default {9980}
   */
  port?: number;
  /** Password clients must prove they know. Without one, only loopback addresses may be listened on. */
  password?: string;
  /**
   * Require encrypted connections (AES-256-GCM). Needs a password.
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
   * Most concurrent connections; the next one is refused with `TOO_MANY_CONNECTIONS`.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * Largest request or reply frame in bytes.
   *
   * @default {64 * 1024 * 1024}
   */
  maxFrameSize?: number;
  /**
   * Milliseconds a new connection has to authenticate.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Most bytes of change events waiting for one connection (its client reads them too slowly)
   * before that connection's watches end with `SLOW_CONSUMER`, as Redis's
   * `client-output-buffer-limit pubsub`.
   *
   * @default {8 * 1024 * 1024}
   */
  watchBuffer?: number;
  /**
   * Journal every change to this file before acknowledging it; on start, replay it over the loaded
   * snapshot. Compaction writes the snapshot to the backup path ({@link Server.setBackup}), or to
   * `<journal>.snapshot` when none is set.
   */
  journal?: JournalOptions;
}

/** Where a started server listens. */
export interface ServerAddress {
  /** The bound host. */
  hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
}

/** Options of {@link Server.setBackup}. */
export interface BackupOptions {
  /** Seconds between snapshots; 0 saves only when the server shuts down through {@link Server.run}. */
  interval: number;
}

const LOOPBACK = new IpWhitelist(["127.0.0.0/8", "::1"]);

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" ||
    (parseIp(hostname) !== undefined && LOOPBACK.allows(hostname));
}

/**
 * A cyberdb server holding named CyberDict and CyberList tables.
 *
 * @example
 * ```ts
 * import { Server } from "../../mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ hostname: "127.0.0.1", port: 0, password: "secret" });
 * console.log(`listening on ${port}`);
 * await server.close();
 * ```
 */
export class Server {
  #store = new Store();
  #log: boolean;
  #listener: Listener | undefined;
  #accepting: Promise<void> | undefined;
  #sessions = new Set<Promise<void>>();
  #channels = new Set<Channel>();
  #whitelist: IpWhitelist | undefined;
  #persistence = new Persistence(this.#store, (message) => this.#writeLog(message));
  #stats = { requests: 0, connections: 0, refused: 0 };
  #startedAt = 0;

  /**
   * Creates a server with no tables; {@link Server.start} makes it listen.
   *
   * @param options logging
   */
  constructor(options: ServerOptions = {}) {
    this.#log = options.log ?? false;
  }

  /**
   * Starts listening. Resolves once the socket is bound.
   *
   * @returns the bound address
   * @throws {Error} when the port is taken, or when asked to listen beyond loopback without a password
   */
  async start(options: StartOptions = {}): Promise<ServerAddress> {
    if (this.#listener) {
      throw new Error("the server is already started; close it first");
    }
    const hostname = options.hostname ?? DEFAULT_HOSTNAME;
    const port = options.port ?? DEFAULT_PORT;
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    const handshakeTimeout = options.handshakeTimeout ?? 10_000;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError("maxConnections must be ≥ 1");
    }
    const watchBuffer = options.watchBuffer ?? DEFAULT_WATCH_BUFFER;
    if (!Number.isSafeInteger(watchBuffer) || watchBuffer < 1024) {
      throw new RangeError("watchBuffer must be a whole number of bytes ≥ 1024");
    }
    if (options.password === "") {
      throw new TypeError(
        "the password must not be empty; omit it to turn auth off",
      );
    }
    if (options.password === undefined && !isLoopback(hostname)) {
      throw new Error(
        `refusing to listen on ${hostname} without a password (protected mode): anyone who can reach it could ` +
          `read and change every table. Set a password (--password or CYBERDB_PASSWORD), or listen on 127.0.0.1`,
      );
    }
    if (options.encrypt && options.password === undefined) {
      throw new TypeError("encryption keys are derived from the password: set a password to use encrypt");
    }
    const salt = randomBytes(16);
    const auth: ServerAuth = {
      key: options.password === undefined ? undefined : await passwordKey(options.password, salt, PASSWORD_ITERATIONS),
      salt,
      iterations: PASSWORD_ITERATIONS,
      encrypt: options.encrypt ?? false,
    };
    if (options.journal) await this.#persistence.openJournal(options.journal);
    let listener: Listener;
    try {
      listener = await runtime.listen({ hostname, port });
    } catch (error) {
      await this.#persistence.close();
      throw error;
    }
    this.#listener = listener;
    this.#startedAt = performance.now();
    const persistence = this.#persistence;
    const context = {
      store: this.#store,
      engine: "remote",
      auth,
      records: { webCrypto: options.webCrypto },
      maxFrameSize,
      handshakeTimeout,
      watchBuffer,
      stats: this.#stats,
      log: (message: string) => this.#writeLog(message),
      journal: () => persistence.journal,
      afterCommit: () => persistence.maybeCompact(),
      info: () => this.info(),
    };
    this.#accepting = this.#acceptLoop(listener, (conn) => {
      const channel = new Channel(conn);
      const refusal = this.#refusal(conn, maxConnections);
      if (refusal) {
        this.#stats.refused++;
        this.#writeLog(
          `${conn.remoteAddr.hostname}: refused: ${refusal.message}`,
        );
        channel.send(encode({ error: [refusal.code, refusal.message] }));
        channel.drain().finally(() => channel.close());
        return;
      }
      this.#stats.connections++;
      this.#channels.add(channel);
      const session = serveSession(channel, context).finally(() => {
        this.#channels.delete(channel);
        this.#sessions.delete(session);
      });
      this.#sessions.add(session);
    });
    this.#writeLog(
      `listening on ${listener.addr.hostname}:${listener.addr.port}`,
    );
    return { ...listener.addr };
  }

  #refusal(
    conn: Conn,
    maxConnections: number,
  ): ForbiddenError | TooManyConnectionsError | undefined {
    const address = conn.remoteAddr.hostname;
    if (this.#whitelist && !this.#whitelist.allows(address)) {
      return new ForbiddenError(
        `${address} is not on the server's IP whitelist`,
      );
    }
    if (this.#channels.size >= maxConnections) {
      return new TooManyConnectionsError(
        `the server has reached its limit of ${maxConnections} connections; close idle clients or raise --max-connections`,
      );
    }
    return undefined;
  }

  async #acceptLoop(
    listener: Listener,
    onConn: (conn: Conn) => void,
  ): Promise<void> {
    for (;;) {
      let conn: Conn | null;
      try {
        conn = await listener.accept();
      } catch (error) {
        this.#writeLog(`accept failed: ${(error as Error).message}`);
        continue;
      }
      if (conn === null) return;
      onConn(conn);
    }
  }

  /**
   * The facts an operator asks first: uptime, connections, requests, table
   * sizes, memory, the last snapshot and the journal. Clients get the same
   * with `proxy.info()`.
   *
   * @example
   * ```ts
   * import { Server } from "../../mod.ts";
   * const server = new Server();
   * await server.start({ port: 0 });
   * console.log(server.info().connections); // { current: 0, total: 0, refused: 0 }
   * await server.close();
   * ```
   */
  info(): ServerInfo {
    return {
      version: VERSION,
      uptime: this.#listener ? (performance.now() - this.#startedAt) / 1000 : 0,
      connections: { current: this.#channels.size, total: this.#stats.connections, refused: this.#stats.refused },
      requests: this.#stats.requests,
      tables: this.#store.sizes(),
      memory: { rss: runtime.memoryUsage() },
      lastSnapshot: this.#persistence.lastSnapshot ?? null,
      journal: this.#persistence.journalInfo(),
    };
  }

  /**
   * Allows connections only from these addresses or CIDR ranges; an empty
   * list allows everyone again. A refused peer gets a `FORBIDDEN` error frame.
   *
   * @throws {TypeError} for an entry that is not an address or range
   */
  setIpWhitelist(entries: readonly string[]): void {
    this.#whitelist = entries.length === 0 ? undefined : new IpWhitelist(entries);
  }

  /**
   * Replaces every table with those of a snapshot file. On any error the
   * current tables stay as they were. While journaling, a compaction
   * follows, so that the journal continues the loaded tables.
   *
   * @throws {SnapshotCorruptError} naming the file, when it is missing, truncated or corrupt
   */
  load(path: string): Promise<void> {
    return this.#persistence.load(path);
  }

  /**
   * Writes every table to a snapshot file atomically (temp file, fsync,
   * rename, directory fsync). The tables are captured at the moment of the
   * call, in one step, then encoded in slices so other clients are served
   * meanwhile; saves run one after another, never at the same time.
   */
  save(path: string): Promise<void> {
    return this.#persistence.save(path);
  }

  /**
   * Saves a snapshot every `interval` seconds (CyberDB's `set_backup`), and
   * once more when {@link Server.run} shuts down. With a journal, each
   * backup is a compaction (snapshot + fresh journal). A backup still
   * running when the next is due is not overlapped: the next one is skipped.
   *
   * @throws {RangeError} for a negative interval
   */
  setBackup(path: string, options: BackupOptions): void {
    this.#persistence.setBackup(path, options.interval);
  }

  /**
   * Starts, serves until SIGINT or SIGTERM, saves to the backup path (if
   * {@link Server.setBackup} set one; with a journal, a compaction), and
   * closes (the journal fsynced).
   */
  async run(options: StartOptions = {}): Promise<void> {
    await this.start(options);
    const signal = await new Promise<string>((resolve) => {
      const stop = runtime.onShutdownSignal((name) => {
        stop();
        resolve(name);
      });
    });
    this.#writeLog(`${signal} received, shutting down`);
    try {
      await this.#persistence.checkpoint();
    } finally {
      await this.close();
    }
  }

  /**
   * Stops listening, closes every connection, stops backups, and closes the
   * journal (written and fsynced). Safe to call more than once.
   */
  async close(): Promise<void> {
    this.#listener?.close();
    this.#listener = undefined;
    for (const channel of this.#channels) channel.close();
    await this.#accepting;
    await Promise.all(this.#sessions);
    await this.#persistence.close();
  }

  #writeLog(message: string): void {
    if (this.#log) {
      console.error(`[cyberdb ${new Date().toISOString()}] ${message}`);
    }
  }
}
