/**
 * The `server.ts` command: serves tables over TCP until SIGINT or SIGTERM,
 * with the snapshot, journal, password and limits its flags give.
 *
 * ```sh
 * deno run -A server.ts --help
 * deno run -A server.ts --db data.cdb --backup-interval 300 --password hWjYvVdqRC --max-connections 10000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CONNECTION_FLAGS, FlagError, integerFlag, passwordFlag, portFlag } from "../command_line.ts";
import { runtime } from "../runtime/mod.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_PORT } from "../protocol/messages.ts";
import { DEFAULT_FSYNC, FSYNC_POLICIES, type FsyncPolicy } from "../store/journal.ts";
import type { SessionLimitOptions } from "./limits.ts";
import { DEFAULT_MAX_CONNECTIONS, Server } from "./server.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../log.ts";

/** The `--help` text. */
export const USAGE = `Usage: ${runtime.name === "node" ? "cyberdb-server" : "deno run -A server.ts"} [options]

Serves cyberdb tables over TCP or a Unix socket. With no options: 127.0.0.1:${DEFAULT_PORT}, no password
(so loopback only), no persistence.

Options:
  --hostname <host>          address to listen on (default 127.0.0.1)
  --port <port>              port to listen on, 0 for any free port (default ${DEFAULT_PORT})
  --unix <path>              listen on a Unix domain socket at <path> instead of TCP
                             (a stale socket file left by a crash is replaced)
  --unix-mode <octal>        permissions of the --unix socket file (default 0700)
  --password <password>      password clients must prove they know
                             (default: the CYBERDB_PASSWORD environment variable)
  --encrypt                  require AES-256-GCM encrypted connections (needs a password)
  --tls-cert <file>          serve TLS with this certificate chain (PEM; needs --tls-key);
                             clients use --tls or cyberdbs://
  --tls-key <file>           the private key (PEM) of --tls-cert
  --journal <path>           append every change to this journal before acknowledging it;
                             replayed over the snapshot at start (snapshot: --db, or <path>.snapshot)
  --fsync <policy>           journal fsync: ${FSYNC_POLICIES.join(" | ")} (default ${DEFAULT_FSYNC})
  --repair-journal           cut a journal with a bad record at that record (the original is
                             copied aside first) instead of refusing to start
  --db <path>                snapshot file: loaded at start if it exists,
                             saved on SIGINT/SIGTERM and every --backup-interval
  --backup-interval <secs>   seconds between snapshots to --db (default 0: only at shutdown)
  --max-connections <n>      most concurrent authenticated connections (default ${DEFAULT_MAX_CONNECTIONS})
  --max-unauthenticated <n>  most connections still authenticating; a new one drops the oldest (default 128)
  --output-buffer-soft <b>   unsent reply bytes past which a connection is not read until its client
                             catches up; k, m, g suffixes (default 8m)
  --output-buffer-hard <b>   unsent reply bytes past which a connection is closed (default 256m)
  --max-memory <size>        resident memory past which writes are refused with OUT_OF_MEMORY;
                             k, m, g suffixes (default: no limit)
  --write-timeout <ms>       ms a client past the soft limit has to take its replies (default 30000)
  --watch-buffer <bytes>     bytes of change events held for a connection that reads them too
                             slowly before its watches end with SLOW_CONSUMER; k, m, g suffixes
                             for KiB, MiB, GiB (default 8m)
  --whitelist <list>         comma-separated IPs or CIDR ranges allowed to connect
                             (e.g. 127.0.0.1,10.0.0.0/8,::1; default: everyone)
  --log-level <level>        least severe log lines written: debug | info | warn | error (default info)
  --log-format <format>      text (one line per event: time, level, message, key=value fields) or
                             json (one JSON object per line: time, level, message, fields) (default text)
  --metrics <host:port>      serve Prometheus metrics over HTTP there (e.g. 127.0.0.1:9981)
  --slowlog-threshold <ms>   requests taking at least this many ms to apply go to the slow log (the
                             last 128; info and the shell's slowlog show them); 0 logs every request,
                             off for none (default 10)
  --quiet                    no log lines
  -h, --help                 show this help
  -v, --version              print the version and exit
`;

/** The flags `server.ts` takes, as `parseArgs` options. */
const FLAGS = {
  ...CONNECTION_FLAGS,
  "unix-mode": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  journal: { type: "string" },
  fsync: { type: "string" },
  "repair-journal": { type: "boolean" },
  db: { type: "string" },
  "backup-interval": { type: "string" },
  "max-connections": { type: "string" },
  "watch-buffer": { type: "string" },
  "max-unauthenticated": { type: "string" },
  "output-buffer-soft": { type: "string" },
  "output-buffer-hard": { type: "string" },
  "write-timeout": { type: "string" },
  "max-memory": { type: "string" },
  whitelist: { type: "string" },
  quiet: { type: "boolean" },
  metrics: { type: "string" },
  "slowlog-threshold": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
} as const;

/** What the command line asks for, checked. */
interface ServeOptions {
  hostname?: string;
  port?: number;
  unix?: string;
  unixMode?: number;
  password?: string;
  encrypt: boolean;
  journal?: string;
  fsync?: FsyncPolicy;
  repairJournal: boolean;
  db?: string;
  backupInterval: number;
  maxConnections?: number;
  watchBuffer?: number;
  limits: SessionLimitOptions;
  maxMemory?: number;
  whitelist?: string[];
  quiet: boolean;
  logLevel?: LogLevel;
  metrics?: { hostname: string; port: number };
  logFormat?: LogFormat;
  slowlogThreshold?: number;
  tlsCert?: string;
  tlsKey?: string;
}

/** Parses and checks the flags; `"help"` or `"version"` when `--help` or `--version` was asked for. */
function parseServeArgs(args: string[]): ServeOptions | "help" | "version" {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: FLAGS });
  if (values.help) return "help";
  if (values.version) return "version";
  const options: ServeOptions = {
    hostname: values.hostname,
    port: portFlag(values.port, 0),
    unix: values.unix,
    unixMode: modeFlag(values["unix-mode"]),
    password: passwordFlag(values.password),
    encrypt: values.encrypt ?? false,
    journal: values.journal,
    fsync: values.fsync as FsyncPolicy | undefined,
    repairJournal: values["repair-journal"] ?? false,
    db: values.db,
    backupInterval: integerFlag("backup-interval", values["backup-interval"], 0, 31_536_000) ?? 0,
    maxConnections: integerFlag("max-connections", values["max-connections"], 1, 10_000_000),
    watchBuffer: bytesFlag("watch-buffer", values["watch-buffer"]),
    maxMemory: bytesFlag("max-memory", values["max-memory"], 1024 ** 4),
    limits: {
      maxUnauthenticated: integerFlag("max-unauthenticated", values["max-unauthenticated"], 1, 10_000_000),
      outputBufferSoft: bytesFlag("output-buffer-soft", values["output-buffer-soft"]),
      outputBufferHard: bytesFlag("output-buffer-hard", values["output-buffer-hard"]),
      writeTimeout: integerFlag("write-timeout", values["write-timeout"], 1, 2_147_483_647),
    },
    whitelist: values.whitelist?.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    quiet: values.quiet ?? false,
    metrics: hostPortFlag("metrics", values.metrics),
    logLevel: oneOf("log-level", values["log-level"], LOG_LEVELS),
    logFormat: oneOf("log-format", values["log-format"], LOG_FORMATS),
    slowlogThreshold: millisecondsFlag("slowlog-threshold", values["slowlog-threshold"]),
    tlsCert: values["tls-cert"],
    tlsKey: values["tls-key"],
  };
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new FlagError("--tls-cert and --tls-key go together: the certificate and its private key");
  }
  if (options.tlsCert !== undefined && options.unix !== undefined) {
    throw new FlagError("TLS is served over TCP: drop --tls-cert/--tls-key or --unix");
  }
  if (options.fsync !== undefined && !FSYNC_POLICIES.includes(options.fsync)) {
    throw new FlagError(`--fsync must be always, everysec or no, got ${JSON.stringify(options.fsync)}`);
  }
  if ((options.fsync !== undefined || options.repairJournal) && options.journal === undefined) {
    throw new FlagError("--fsync and --repair-journal need --journal <path>");
  }
  if (options.unixMode !== undefined && options.unix === undefined) {
    throw new FlagError("--unix-mode needs --unix <path>");
  }
  if (options.unix !== undefined && (options.hostname !== undefined || options.port !== undefined)) {
    throw new FlagError("--unix listens instead of TCP: drop --hostname and --port, or --unix");
  }
  if (options.backupInterval > 0 && options.db === undefined) {
    throw new FlagError("--backup-interval needs --db <path> to know where to save");
  }
  return options;
}

/** A size in bytes: digits with an optional k, m or g (KiB, MiB, GiB), from 1 KiB to `max` (1 GiB). */
function bytesFlag(name: string, value: string | undefined, max = 1024 ** 3): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)([kmg]?)i?b?$/i.exec(value.trim());
  const bytes = match ? Number(match[1]) * 1024 ** " kmg".indexOf(match[2].toLowerCase() || " ") : NaN;
  if (!(bytes >= 1024 && bytes <= max)) {
    throw new FlagError(
      `--${name} must be a size from 1k to ${max / 1024 ** 3}g (bytes, or with k, m, g), got ${JSON.stringify(value)}`,
    );
  }
  return bytes;
}

/** A `host:port` flag (`[::1]:9981` for IPv6); port 0 for any free port. */
function hostPortFlag(name: string, text: string | undefined): { hostname: string; port: number } | undefined {
  if (text === undefined) return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!match || Number(match[3]) > 65535) {
    throw new FlagError(`--${name} must be host:port, such as 127.0.0.1:9981, got ${JSON.stringify(text)}`);
  }
  return { hostname: match[1] ?? match[2], port: Number(match[3]) };
}

/** Milliseconds, fractions allowed (`0.5`); `off` (or a negative number) is -1, for off. */
function millisecondsFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === "off") return -1;
  if (!/^-?\d+(\.\d+)?$/.test(text.trim())) {
    throw new FlagError(`--${name} must be milliseconds such as 10 or 0.5, or off, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** A flag that takes one of a few words. */
function oneOf<T extends string>(name: string, text: string | undefined, words: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  if (!words.includes(text as T)) {
    throw new FlagError(`--${name} must be ${words.join(", ")}, got ${JSON.stringify(text)}`);
  }
  return text as T;
}

/** Reads `--unix-mode`: octal permissions such as `0700` or `660`. */
function modeFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^0?[0-7]{3}$/.test(text)) {
    throw new FlagError(`--unix-mode must be octal permissions such as 0700 or 0660, got ${JSON.stringify(text)}`);
  }
  return parseInt(text, 8);
}

/** A PEM file's text; the error names the flag. */
async function readText(path: string, flag: string): Promise<string> {
  try {
    return new TextDecoder().decode(await runtime.readFile(path));
  } catch (error) {
    throw new Error(`cannot read ${flag} ${path}: ${(error as Error).message}`);
  }
}

/** Loads the snapshot, then serves until SIGINT or SIGTERM; the exit code. */
async function serve(options: ServeOptions): Promise<number> {
  const server = new Server({ log: options.quiet ? false : { level: options.logLevel, format: options.logFormat } });
  try {
    if (options.whitelist) server.setIpWhitelist(options.whitelist);
    if (options.metrics) await server.serveMetrics(options.metrics);
    const tls = options.tlsCert === undefined || options.tlsKey === undefined ? undefined : {
      cert: await readText(options.tlsCert, "--tls-cert"),
      key: await readText(options.tlsKey, "--tls-key"),
    };
    if (options.db !== undefined) {
      if (await runtime.exists(options.db)) await server.load(options.db);
      server.setBackup(options.db, { interval: options.backupInterval });
    }
    await server.run({
      hostname: options.hostname,
      port: options.port,
      path: options.unix,
      mode: options.unixMode,
      password: options.password,
      encrypt: options.encrypt,
      tls,
      maxConnections: options.maxConnections,
      watchBuffer: options.watchBuffer,
      ...options.limits,
      maxMemory: options.maxMemory,
      slowlogThreshold: options.slowlogThreshold,
      journal: options.journal === undefined
        ? undefined
        : { path: options.journal, fsync: options.fsync, repair: options.repairJournal },
    });
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    await server.close();
    return 1;
  }
}

/**
 * Runs the server command with the given arguments until SIGINT or SIGTERM.
 *
 * @param args command-line arguments
 * @returns the process exit code: 0 after a clean shutdown, 1 on a start failure, 2 for bad flags
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * await main(["--help"]); // prints the usage, returns 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseServeArgs(args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  if (options === "version") {
    console.log(`cyberdb-server ${VERSION}`);
    return 0;
  }
  return await serve(options);
}
