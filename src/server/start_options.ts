/**
 * What `Server.start` can be asked for: the options, their defaults, and the
 * checks they pass before anything is opened.
 *
 * @module
 */
import { DEFAULT_MAX_FRAME_SIZE } from "../protocol/frame.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/messages.ts";
import type { JournalOptions } from "../store/journal.ts";
import { type SessionLimitOptions, type SessionLimits, sessionLimits } from "./limits.ts";
import { DEFAULT_WATCH_BUFFER } from "./watches.ts";
import { DEFAULT_SLOWLOG_THRESHOLD } from "./slowlog.ts";
import { IpWhitelist, parseIp } from "./whitelist.ts";
import type { TlsCertificate } from "../runtime/mod.ts";

/** Most concurrent connections when {@link StartOptions.maxConnections} is not given. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** Milliseconds a new connection has to authenticate when {@link StartOptions.handshakeTimeout} is not given. */
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Permissions of a Unix socket file when {@link StartOptions.mode} is not given: only this user. */
const DEFAULT_SOCKET_MODE = 0o700;

/** Options of `Server.start`. */
export interface StartOptions extends SessionLimitOptions {
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
  /**
   * Listen on a Unix domain socket at this path instead of TCP (`hostname` and `port` are then
   * ignored). A socket file left by a crashed server is replaced; a path a running server holds is
   * refused. The IP whitelist does not apply to it (its file mode does), and no password is needed,
   * as on loopback.
   */
  path?: string;
  /**
   * File mode of the socket at {@link StartOptions.path}, as Redis's `unixsocketperm`.
   *
   * @default {0o700} (only this user)
   */
  mode?: number;
  /** Password clients must prove they know. Without one, only loopback addresses may be listened on. */
  password?: string;
  /**
   * Require encrypted connections (AES-256-GCM). Needs a password.
   *
   * @default {false}
   */
  encrypt?: boolean;
  /**
   * Serve TLS (1.2 and 1.3) with this certificate chain and private key, both PEM text (`server.ts
   * --tls-cert <file> --tls-key <file>` reads them from files); clients connect with `tls: {}` (or
   * `tls: { caCerts }` for a private CA) or a `cyberdbs://` URL. Not on a Unix socket. With `encrypt`
   * too, records are sealed inside TLS as well (allowed, so clients can move from one to the other).
   */
  tls?: TlsCertificate;
  /**
   * Seal records with Web Crypto rather than the runtime's synchronous AES-256-GCM (`node:crypto`).
   * Same bytes on the wire, slower.
   *
   * @default {false} (`true` when `CYBERDB_WEBCRYPTO=1`)
   */
  webCrypto?: boolean;
  /**
   * Most concurrent authenticated connections; a new one past it is refused with `TOO_MANY_CONNECTIONS`.
   * Connections still in the handshake have their own cap ({@link SessionLimitOptions.maxUnauthenticated}).
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
   * Bytes of resident memory (`info().memory.rss`) past which writes are refused with `OUT_OF_MEMORY`
   * (Redis's `maxmemory` with `noeviction`): reads, deletes and clears still work, and the process
   * never grows past what one request can decode. 0 or absent: no limit.
   *
   * @default {0}
   */
  maxMemory?: number;
  /**
   * Milliseconds from which a request is kept in the slow log (the last 128 such requests, as Redis's
   * `slowlog-log-slower-than`; `info({ slowlog: true })` and the shell's `slowlog` show them). 0 logs every
   * request; a negative number turns the slow log off. The time is that of applying the request (decode, run,
   * encode the reply), not of the journal's fsync or the network.
   *
   * @default {10}
   */
  slowlogThreshold?: number;
  /**
   * Journal every change to this file before acknowledging it; on start, replay it over the loaded
   * snapshot. Compaction writes the snapshot to the backup path (`Server.setBackup`), or to
   * `<journal>.snapshot` when none is set.
   */
  journal?: JournalOptions;
}

/** Where a started server listens. */
export interface ServerAddress {
  /** The bound host; `""` on a Unix domain socket. */
  hostname: string;
  /** The bound port (the real one when 0 was asked for); 0 on a Unix domain socket. */
  port: number;
  /** The Unix domain socket's path, when listening on one. */
  path?: string;
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

/** {@link StartOptions} with every default filled in and every limit checked. */
export interface ResolvedStartOptions {
  hostname: string;
  port: number;
  /** The Unix socket to listen on instead of TCP, if any. */
  path?: string;
  mode: number;
  encrypt: boolean;
  /** The certificate and key to serve TLS with, if any. */
  tls?: TlsCertificate;
  maxConnections: number;
  maxFrameSize: number;
  handshakeTimeout: number;
  watchBuffer: number;
  /** Resident bytes past which writes are refused; 0 for no limit. */
  maxMemory: number;
  /** Milliseconds from which a request goes to the slow log; negative: no slow log. */
  slowlogThreshold: number;
  /** Output buffer limits, write timeout, unauthenticated connections. */
  limits: SessionLimits;
  /** Whether to warn that a password without encryption beyond loopback lets the path inject requests. */
  plainBeyondLoopback: boolean;
}

/**
 * Fills in the defaults and checks the limits and the password rules, before anything is opened.
 *
 * @param options what `start()` was given
 * @returns every setting, defaults filled in
 * @throws {RangeError} for a limit out of range (see also `sessionLimits`)
 * @throws {TypeError} for an empty password, or encryption without a password
 * @throws {Error} for a non-loopback address without a password (protected mode)
 */
export function resolveStartOptions(options: StartOptions): ResolvedStartOptions {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? DEFAULT_PORT;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError("maxConnections must be ≥ 1");
  }
  const limits = sessionLimits(options);
  const maxMemory = options.maxMemory ?? 0;
  if (!Number.isSafeInteger(maxMemory) || maxMemory < 0) {
    throw new RangeError("maxMemory must be a whole number of bytes (0 for no limit)");
  }
  const slowlogThreshold = options.slowlogThreshold ?? DEFAULT_SLOWLOG_THRESHOLD;
  if (typeof slowlogThreshold !== "number" || Number.isNaN(slowlogThreshold)) {
    throw new RangeError("slowlogThreshold must be a number of milliseconds (0: every request; negative: off)");
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
  const mode = options.mode ?? DEFAULT_SOCKET_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError("mode must be file permissions from 0o000 to 0o777, e.g. 0o700");
  }
  if (options.password === undefined && options.path === undefined && !isLoopback(hostname)) {
    throw new Error(
      `refusing to listen on ${hostname} without a password (protected mode): anyone who can reach it could ` +
        `read and change every table. Set a password (--password or CYBERDB_PASSWORD), or listen on 127.0.0.1`,
    );
  }
  if (options.tls !== undefined) {
    if (options.path !== undefined) {
      throw new TypeError("TLS is served over TCP only: a Unix socket is protected by its file mode; drop tls or path");
    }
    if (typeof options.tls?.cert !== "string" || typeof options.tls?.key !== "string") {
      throw new TypeError("tls takes { cert, key }: the certificate chain and its private key as PEM text");
    }
  }
  if (options.encrypt && options.password === undefined) {
    throw new TypeError("encryption keys are derived from the password: set a password to use encrypt");
  }
  return {
    hostname,
    port,
    path: options.path,
    mode,
    encrypt: options.encrypt ?? false,
    tls: options.tls,
    maxConnections,
    maxFrameSize,
    handshakeTimeout,
    watchBuffer,
    limits,
    maxMemory,
    slowlogThreshold,
    plainBeyondLoopback: options.password !== undefined && !options.encrypt && !options.tls &&
      options.path === undefined &&
      !isLoopback(hostname),
  };
}
