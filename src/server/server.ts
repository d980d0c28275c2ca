/**
 * The cyberdb server: listens, authenticates, serves the tables, and saves
 * them to snapshot files.
 *
 * @module
 */
import type { ServerAuth } from "../crypto/handshake.ts";
import { serverAuth } from "./auth.ts";
import { ForbiddenError, TooManyConnectionsError } from "../errors.ts";
import { Channel } from "../protocol/channel.ts";
import { encode } from "../protocol/codec.ts";
import { type Conn, type Listener, runtime } from "../runtime/mod.ts";
import type { InfoOptions, ServerInfo } from "../protocol/messages.ts";
import { VERSION } from "../version.ts";
import { ActiveExpiry } from "../store/expiry.ts";
import { Persistence } from "../store/persistence.ts";
import { serveSession, type SessionContext } from "./session.ts";
import { Store } from "../store/store.ts";
import {
  type BackupOptions,
  type ResolvedStartOptions,
  resolveStartOptions,
  type ServerAddress,
  type StartOptions,
} from "./start_options.ts";
import { IpWhitelist } from "./whitelist.ts";
import { memoryGauge } from "./limits.ts";
import { ConnectedClient } from "./client_list.ts";
import { DEFAULT_SLOWLOG_THRESHOLD, Slowlog } from "./slowlog.ts";
import { type LogFields, type LoggerOptions, type LogLevel, type LogWriter, makeLogger } from "../log.ts";
import { type MetricsEndpoint, renderMetrics, RequestMetrics, serveMetrics } from "./metrics.ts";

export { type BackupOptions, DEFAULT_MAX_CONNECTIONS, type ServerAddress, type StartOptions } from "./start_options.ts";

/** Options of `new Server()`. */
export interface ServerOptions {
  /**
   * Log connections, refusals and snapshots to stderr (CyberDB's `print_log`), one line per event with
   * its level: `true` for text lines at `info` and above, or the level and format (`text`, `json`).
   *
   * @default {false}
   */
  log?: boolean | LoggerOptions;
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
  #log: LogWriter | undefined;
  #listener: Listener | undefined;
  #accepting: Promise<void> | undefined;
  #sessions = new Set<Promise<void>>();
  /** Every open connection, with its row of the client list. */
  #channels = new Map<Channel, ConnectedClient>();
  #clientIds = 0;
  #slowlog = new Slowlog(DEFAULT_SLOWLOG_THRESHOLD);
  /** Connections still in the handshake, oldest first. */
  #unauthenticated = new Set<Channel>();
  #whitelist: IpWhitelist | undefined;
  #persistence = new Persistence(this.#store, (message, level, fields) => this.#writeLog(message, level, fields));
  /** Reclaims expired entries no client touches. */
  #expiry = new ActiveExpiry(this.#store);
  #stats = { requests: 0, connections: 0, refused: 0 };
  #metrics = new RequestMetrics();
  #metricsEndpoint: MetricsEndpoint | undefined;
  #startedAt = 0;

  /**
   * Creates a server with no tables; {@link Server.start} makes it listen.
   *
   * @param options logging
   */
  constructor(options: ServerOptions = {}) {
    const log = options.log ?? false;
    this.#log = log === false ? undefined : makeLogger(log === true ? {} : log);
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
    const resolved = resolveStartOptions(options);
    const auth = await serverAuth(options.password, resolved.encrypt);
    if (options.journal) await this.#persistence.openJournal(options.journal);
    let listener: Listener;
    try {
      const address = { hostname: resolved.hostname, port: resolved.port };
      listener = resolved.path !== undefined
        ? await runtime.listenUnix(resolved.path, resolved.mode)
        : resolved.tls
        ? await runtime.listenTls(address, resolved.tls)
        : await runtime.listen(address);
    } catch (error) {
      await this.#persistence.close();
      throw error;
    }
    this.#listener = listener;
    this.#startedAt = performance.now();
    this.#slowlog = new Slowlog(resolved.slowlogThreshold);
    this.#expiry.start();
    const context = this.#sessionContext(auth, resolved, options.webCrypto);
    this.#accepting = this.#acceptLoop(listener, (conn) => this.#accept(conn, context, resolved));
    this.#writeLog(
      listener.addr.path === undefined
        ? `listening on ${listener.addr.hostname}:${listener.addr.port}${resolved.tls ? " (TLS)" : ""}`
        : `listening on unix socket ${listener.addr.path}`,
    );
    if (resolved.plainBeyondLoopback) {
      this.#writeLog(
        `listening on ${resolved.hostname} with a password but without --encrypt: anyone on the network ` +
          `path can read the traffic and inject requests into an authenticated connection. Use --encrypt beyond loopback`,
        "warn",
      );
    }
    return { ...listener.addr };
  }

  /** What every session of this start shares: the tables, the auth, the limits, the journal. */
  #sessionContext(auth: ServerAuth, resolved: ResolvedStartOptions, webCrypto: boolean | undefined): SessionContext {
    const persistence = this.#persistence;
    return {
      store: this.#store,
      engine: "remote",
      auth,
      records: { webCrypto },
      maxFrameSize: resolved.maxFrameSize,
      handshakeTimeout: resolved.handshakeTimeout,
      limits: resolved.limits,
      memoryRefusal: resolved.maxMemory > 0 ? memoryGauge(resolved.maxMemory) : undefined,
      watchBuffer: resolved.watchBuffer,
      stats: this.#stats,
      metrics: this.#metrics,
      slowlog: this.#slowlog,
      log: (message, level, fields) => this.#writeLog(message, level, fields),
      journal: () => persistence.journal,
      afterCommit: () => persistence.maybeCompact(),
      info: (options) => this.info(options),
    };
  }

  /** Takes a new connection: refuses it (whitelist, connection limit) with an error frame, or serves a session on it. */
  #accept(conn: Conn, context: SessionContext, resolved: ResolvedStartOptions): void {
    const channel = new Channel(conn);
    const refusal = this.#refusal(conn, resolved.maxConnections);
    if (refusal) {
      this.#stats.refused++;
      this.#writeLog(
        `${conn.remoteAddr.path ?? conn.remoteAddr.hostname}: refused: ${refusal.message}`,
        "warn",
      );
      channel.send(encode({ error: [refusal.code, refusal.message] }));
      channel.drain().finally(() => {
        channel.close();
        this.#metrics.closed(conn);
      });
      return;
    }
    this.#stats.connections++;
    const client = new ConnectedClient(++this.#clientIds, channel);
    this.#channels.set(channel, client);
    this.#admitUnauthenticated(channel, resolved.limits.maxUnauthenticated);
    const session = serveSession(channel, context, client, () => this.#unauthenticated.delete(channel)).finally(() => {
      this.#channels.delete(channel);
      this.#metrics.closed(conn);
      this.#unauthenticated.delete(channel);
      this.#sessions.delete(session);
    });
    this.#sessions.add(session);
  }

  /** Counts a new connection as unauthenticated, dropping the oldest such one past `max`. */
  #admitUnauthenticated(channel: Channel, max: number): void {
    if (this.#unauthenticated.size >= max) {
      const oldest: Channel = this.#unauthenticated.values().next().value!;
      this.#unauthenticated.delete(oldest);
      const { hostname, port, path } = oldest.conn.remoteAddr;
      this.#writeLog(
        `${path ?? `${hostname}:${port}`}: dropped: ${max} connections were still authenticating ` +
          `(maxUnauthenticated) and a new one came`,
        "warn",
      );
      oldest.close();
    }
    this.#unauthenticated.add(channel);
  }

  #refusal(conn: Conn, maxConnections: number): ForbiddenError | TooManyConnectionsError | undefined {
    const address = conn.remoteAddr.hostname;
    // A Unix socket has no IP address: its file mode says who may connect.
    if (this.#whitelist && conn.remoteAddr.path === undefined && !this.#whitelist.allows(address)) {
      return new ForbiddenError(`${address} is not on the server's IP whitelist`);
    }
    if (this.#channels.size - this.#unauthenticated.size >= maxConnections) {
      return new TooManyConnectionsError(
        `the server has reached its limit of ${maxConnections} connections; close idle clients or raise --max-connections`,
      );
    }
    return undefined;
  }

  async #acceptLoop(listener: Listener, onConn: (conn: Conn) => void): Promise<void> {
    for (;;) {
      let conn: Conn | null;
      try {
        conn = await listener.accept();
      } catch (error) {
        this.#writeLog(`accept failed: ${(error as Error).message}`, "error");
        continue;
      }
      if (conn === null) return;
      onConn(conn);
    }
  }

  /**
   * The facts an operator asks first: uptime, connections, requests, table
   * sizes, memory, the last snapshot and the journal; and when asked, the
   * slow log and the client list. Clients get the same with `proxy.info()`.
   *
   * @param options the sections beyond the summary: `slowlog`, `clients`
   * @returns the facts
   * @example
   * ```ts
   * import { Server } from "../../mod.ts";
   * const server = new Server();
   * await server.start({ port: 0 });
   * console.log(server.info().connections); // { current: 0, total: 0, refused: 0 }
   * await server.close();
   * ```
   */
  info(options: InfoOptions = {}): ServerInfo {
    const now = performance.now();
    return {
      version: VERSION,
      uptime: this.#listener ? (now - this.#startedAt) / 1000 : 0,
      connections: { current: this.#channels.size, total: this.#stats.connections, refused: this.#stats.refused },
      requests: this.#stats.requests,
      tables: this.#store.sizes(),
      memory: { rss: runtime.memoryUsage() },
      lastSnapshot: this.#persistence.lastSnapshot ?? null,
      journal: this.#persistence.journalInfo(),
      ...options.slowlog ? { slowlog: this.#slowlog.entries() } : {},
      ...options.clients ? { clients: [...this.#channels.values()].map((client) => client.row(now)) } : {},
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
    // SIGHUP would end the process by default. There is nothing to reopen (logs go to stderr, the
    // journal and snapshot paths are held open or rewritten atomically), so it is logged and ignored.
    const stopHangup = runtime.onHangupSignal(() =>
      this.#writeLog("SIGHUP received: nothing to reopen (logs go to stderr); still serving", "info")
    );
    try {
      await this.start(options);
    } catch (error) {
      stopHangup();
      throw error;
    }
    const signal = await new Promise<string>((resolve) => {
      const stop = runtime.onShutdownSignal((name) => {
        stop();
        resolve(name);
      });
    });
    stopHangup();
    this.#writeLog(`${signal} received, shutting down`);
    try {
      await this.#persistence.checkpoint();
    } finally {
      await this.close();
    }
  }

  /**
   * Serves Prometheus metrics over HTTP at `address` (any path; `server.ts --metrics <host:port>`):
   * connections, requests by op, errors by code, a request latency histogram, bytes in and out, memory,
   * table sizes, journal size, journal write and fsync and snapshot save histograms, the last load and
   * the last snapshot. Stops at {@link Server.close}.
   *
   * @param address where to listen; port 0 for any free port
   * @returns where it listens
   * @example
   * ```ts
   * import { Server } from "./server.ts";
   * const server = new Server();
   * const { port } = await server.serveMetrics({ hostname: "127.0.0.1", port: 0 });
   * console.log(port > 0); // true
   * await server.close();
   * ```
   */
  async serveMetrics(address: { hostname: string; port: number }): Promise<{ hostname: string; port: number }> {
    this.#metricsEndpoint?.close();
    this.#metricsEndpoint = await serveMetrics(
      address,
      () =>
        renderMetrics(
          this.#metrics,
          this.info(),
          this.#persistence.timings,
          [...this.#channels.keys()].map((c) => c.conn),
        ),
    );
    const { hostname, port } = this.#metricsEndpoint;
    this.#writeLog(`metrics on http://${hostname}:${port}/metrics`, "info", { hostname, port });
    return { hostname, port };
  }

  /**
   * Stops listening, closes every connection, stops backups, and closes the
   * journal (written and fsynced). Safe to call more than once.
   */
  async close(): Promise<void> {
    this.#metricsEndpoint?.close();
    this.#metricsEndpoint = undefined;
    this.#listener?.close();
    this.#listener = undefined;
    this.#expiry.stop();
    for (const channel of this.#channels.keys()) channel.close();
    await this.#accepting;
    await Promise.all(this.#sessions);
    await this.#persistence.close();
  }

  #writeLog(message: string, level: LogLevel = "info", fields?: LogFields): void {
    this.#log?.(level, message, fields);
  }
}
