/**
 * The cyberdb server: listens, authenticates, serves the tables, and saves
 * them to snapshot files.
 *
 * @module
 */
import { PASSWORD_ITERATIONS, passwordKey, randomBytes, type ServerAuth } from "../crypto/handshake.ts";
import { ForbiddenError, SnapshotCorruptError, TooManyConnectionsError } from "../errors.ts";
import { Channel } from "../protocol/channel.ts";
import { encode } from "../protocol/codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../protocol/frame.ts";
import { type Conn, type Listener, runtime, type TimerId } from "../runtime/mod.ts";
import { serveSession } from "./session.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot.ts";
import { Store } from "./store.ts";
import { IpWhitelist, parseIp } from "./whitelist.ts";

/** Options of `new Server()`. */
export interface ServerOptions {
  /** Log connections, refusals and snapshots to stderr (CyberDB's `print_log`). Default `false`. */
  log?: boolean;
}

/** Options of {@link Server.start}. */
export interface StartOptions {
  /** Address to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port to listen on; 0 picks any free port. Default `9980`. */
  port?: number;
  /** Password clients must prove they know. Without one, only loopback addresses may be listened on. */
  password?: string;
  /** Require encrypted connections (AES-256-GCM). Needs a password. Default `false`. */
  encrypt?: boolean;
  /** Most concurrent connections; the next one is refused with `TOO_MANY_CONNECTIONS`. Default 10000. */
  maxConnections?: number;
  /** Largest request or reply frame in bytes. Default 64 MiB. */
  maxFrameSize?: number;
  /** Milliseconds a new connection has to authenticate. Default 10000. */
  handshakeTimeout?: number;
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
  #backup: { path: string; timer?: TimerId; running: boolean } | undefined;
  #saving: Promise<void> = Promise.resolve();
  #stats = { requests: 0, connections: 0, refused: 0 };

  /** @param options logging */
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
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 9980;
    const maxConnections = options.maxConnections ?? 10_000;
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    const handshakeTimeout = options.handshakeTimeout ?? 10_000;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError("maxConnections must be ≥ 1");
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
    const listener = runtime.listen({ hostname, port });
    this.#listener = listener;
    const context = {
      store: this.#store,
      auth,
      maxFrameSize,
      handshakeTimeout,
      stats: this.#stats,
      log: (message: string) => this.#writeLog(message),
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
   * current tables stay as they were.
   *
   * @throws {SnapshotCorruptError} naming the file, when it is missing, truncated or corrupt
   */
  async load(path: string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = await runtime.readFile(path);
    } catch (error) {
      throw new SnapshotCorruptError(
        `cannot read snapshot ${path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const loaded = decodeSnapshot(bytes, path);
    this.#store.tables.clear();
    for (const [name, table] of loaded.tables) {
      this.#store.tables.set(name, table);
    }
    this.#writeLog(`loaded ${loaded.tables.size} tables from ${path}`);
  }

  /**
   * Writes every table to a snapshot file atomically (temp file, fsync,
   * rename, directory fsync). The tables are captured at the moment of the
   * call; saves run one after another, never at the same time.
   */
  save(path: string): Promise<void> {
    const bytes = encodeSnapshot(this.#store);
    const saved = this.#saving.then(() => runtime.writeFileAtomic(path, bytes));
    this.#saving = saved.catch(() => {});
    return saved.then(() => this.#writeLog(`saved ${bytes.length} bytes to ${path}`));
  }

  /**
   * Saves a snapshot every `interval` seconds (CyberDB's `set_backup`), and
   * once more when {@link Server.run} shuts down. A backup still running
   * when the next is due is not overlapped: the next one is skipped.
   */
  setBackup(path: string, options: BackupOptions): void {
    if (!(options.interval >= 0)) {
      throw new RangeError("the backup interval must be ≥ 0 seconds");
    }
    if (this.#backup?.timer !== undefined) clearInterval(this.#backup.timer);
    const backup: { path: string; timer?: TimerId; running: boolean } = {
      path,
      running: false,
    };
    if (options.interval > 0) {
      backup.timer = setInterval(() => {
        if (backup.running) return;
        backup.running = true;
        this.save(path)
          .catch((error) =>
            this.#writeLog(
              `backup to ${path} failed: ${(error as Error).message}`,
            )
          )
          .finally(() => backup.running = false);
      }, options.interval * 1000);
    }
    this.#backup = backup;
  }

  /**
   * Starts, serves until SIGINT or SIGTERM, saves to the backup path (if
   * {@link Server.setBackup} set one), and closes.
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
      if (this.#backup) await this.save(this.#backup.path);
    } finally {
      await this.close();
    }
  }

  /** Stops listening, closes every connection and stops backups. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#backup?.timer !== undefined) clearInterval(this.#backup.timer);
    this.#backup = this.#backup && { ...this.#backup, timer: undefined };
    this.#listener?.close();
    this.#listener = undefined;
    for (const channel of this.#channels) channel.close();
    await this.#accepting;
    await Promise.all(this.#sessions);
    await this.#saving;
  }

  #writeLog(message: string): void {
    if (this.#log) {
      console.error(`[cyberdb ${new Date().toISOString()}] ${message}`);
    }
  }
}
