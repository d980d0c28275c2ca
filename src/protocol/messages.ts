/**
 * The shapes of the messages on the wire, after MessagePack decoding.
 *
 * - request: `[id, op, table, ...args]` — `table` is `""` for ops on the whole store
 * - reply:   `[id, 0]` (no value), `[id, 0, value]`, or `[id, 1, code, message]`
 * - change events, server to client, any time after a `watch` request `id` and until its end:
 *   `[id, 2, change, change, …]` (one or more, in commit order); the end of that watch:
 *   `[id, 3, code, message]` (nothing follows it).
 *   These are not replies: they take no place in the order of replies.
 * - handshake: the maps {@link ServerHello}, {@link ClientHello}, then with a password
 *   {@link ServerProof} (the server proves first) and {@link ClientProof}, then {@link ServerWelcome}
 *
 * @module
 */

/** The protocol version spoken here. */
export const PROTOCOL_VERSION = 2;

/** The TCP port a server listens on, and a client connects to, when none is given. */
export const DEFAULT_PORT = 9980;

/** The address a server listens on, and a client connects to, when none is given: loopback only. */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/** A dict key: a string or a finite number (`1` and `"1"` are different keys). */
export type Key = string | number;

/** Reply status: success. */
export const REPLY_OK = 0;
/** Reply status: the request failed with an error code and message. */
export const REPLY_ERROR = 1;
/** Not a reply: change events (one or more, in order) of the watch opened by request `id`. */
export const WATCH_EVENT = 2;
/** Not a reply: the watch opened by request `id` ended, with an error code and message. */
export const WATCH_END = 3;

/**
 * Ops answered by the session (or the in-process engine) rather than by the
 * store's op table: they concern the server and the connection's watches, not
 * the tables.
 */
export type SessionOp = "info" | "watch" | "unwatch";

/** Ops on the store as a whole. */
export type StoreOp = "tables" | "create" | "open" | "drop" | "timed" | "atomic" | SessionOp;

/**
 * The argument of a `watch` request: `[id, "watch", table, spec]`; table `""`
 * watches the whole store. Answered `[id, 0]` once subscribed; events follow.
 * `[id2, "unwatch", "", id]` ends it.
 */
export interface WatchSpec {
  /** The table's kind (checked like `open`); absent for the whole store. */
  kind?: TableKind;
  /** Only changes to these keys (a dict's `clear` always passes). */
  keys?: Key[];
}

/** Ops on a CyberDict. */
export type DictOp =
  | "d.get"
  | "d.set"
  | "d.has"
  | "d.delete"
  | "d.size"
  | "d.keys"
  | "d.values"
  | "d.entries"
  | "d.clear"
  | "d.setDefault"
  | "d.update"
  | "d.pop"
  | "d.popItem"
  | "d.increment"
  | "d.expire"
  | "d.persist"
  | "d.ttl";

/** Ops on a CyberList. */
export type ListOp =
  | "l.at"
  | "l.set"
  | "l.push"
  | "l.pop"
  | "l.shift"
  | "l.unshift"
  | "l.insert"
  | "l.remove"
  | "l.count"
  | "l.indexOf"
  | "l.includes"
  | "l.slice"
  | "l.splice"
  | "l.reverse"
  | "l.sort"
  | "l.clear"
  | "l.length"
  | "l.toArray";

/** Every op name the server understands. */
export type OpName = StoreOp | DictOp | ListOp;

/** How an argument of an op is named in errors and checked before it is sent. */
export interface ArgSpec {
  /** Its name at the root of error paths (`value` in `value.items[3].fn is a function`). */
  name: string;
  /** Whether it is stored as given, so `undefined` is refused anywhere in it. */
  stored?: boolean;
  /** Levels of arrays it wraps around the values (`entries`: `[[key, value], …]` is 2). */
  wrap?: number;
  /** Whether it stands for this and every later argument (`push(...values)`). */
  rest?: boolean;
}

const key: ArgSpec = { name: "key" }, value: ArgSpec = { name: "value", stored: true };
const entries: ArgSpec = { name: "entries", stored: true, wrap: 2 };

/**
 * The arguments of each op, in order, for error messages and the value
 * checks of `encodeRequest`. An op missing here has its arguments named
 * `args[i]`, with `undefined` allowed.
 */
export const OP_ARGS: Readonly<Record<string, readonly ArgSpec[]>> = {
  "create": [{ name: "kind" }, { name: "initial", stored: true, wrap: 2 }],
  "d.get": [key, { name: "defaultValue" }],
  "d.set": [key, value, { name: "options" }],
  "d.has": [key],
  "d.delete": [key],
  "d.setDefault": [key, value, { name: "options" }],
  "d.update": [entries, { name: "options" }],
  "d.pop": [key, { name: "defaultValue" }],
  "d.increment": [key, { name: "by" }],
  "d.expire": [key, { name: "ms" }],
  "d.persist": [key],
  "d.ttl": [key],
  "l.at": [{ name: "index" }],
  "l.set": [{ name: "index" }, value],
  "l.push": [{ name: "values", stored: true, rest: true }],
  "l.pop": [{ name: "index" }],
  "l.unshift": [{ name: "values", stored: true, rest: true }],
  "l.insert": [{ name: "index" }, value],
  "l.remove": [{ name: "value" }],
  "l.count": [{ name: "value" }],
  "l.indexOf": [{ name: "value" }, { name: "fromIndex" }],
  "l.includes": [{ name: "value" }],
  "l.slice": [{ name: "start" }, { name: "end" }],
  "l.splice": [{ name: "start" }, { name: "deleteCount" }, { name: "items", stored: true, rest: true }],
  "l.sort": [{ name: "options" }],
};

/** The kinds of table. */
export type TableKind = "CyberDict" | "CyberList";

/** One row of `tables()`. */
export interface TableInfo {
  /** The table's name. */
  name: string;
  /** Whether it is a dict or a list. */
  type: TableKind;
}

/** The first frame the server sends on a new connection. */
export interface ServerHello {
  /** The protocol version. */
  cyberdb: number;
  /** Whether a password is required. */
  auth: boolean;
  /** Whether the server offers (and then requires) encryption. */
  encrypt: boolean;
  /** The server's random nonce for this connection. */
  nonce: Uint8Array;
  /** PBKDF2 salt of the password key (only when `auth`). */
  salt?: Uint8Array;
  /** PBKDF2 iterations of the password key (only when `auth`). */
  iterations?: number;
  /** The server's ephemeral X25519 public key for this connection (only when `auth`). */
  key?: Uint8Array;
}

/** The client's answer to the hello. */
export interface ClientHello {
  /** The client's random nonce. */
  nonce: Uint8Array;
  /** Whether the client wants encryption. */
  encrypt: boolean;
  /** The client's ephemeral X25519 public key (only when the server asked for auth). */
  key?: Uint8Array;
}

/** With auth, the server's answer to the client's hello: its proof over the transcript, or an error. */
export interface ServerProof {
  /** HMAC of the transcript hash under the server's proof key. */
  proof?: Uint8Array;
  /** Set instead when the client is refused: `[code, message]`. */
  error?: [string, string];
}

/** With auth, the client's proof, sent only once the server's proof checked out; or why it gives up. */
export interface ClientProof {
  /** HMAC of the transcript hash under the client's proof key. */
  proof?: Uint8Array;
  /** Set instead when the client gives up: `[code, message]`. */
  error?: [string, string];
}

/** The server's last handshake frame: empty on success, or an error. */
export interface ServerWelcome {
  /** Set when the handshake failed: `[code, message]`. */
  error?: [string, string];
}

/** What `info` reports about a server: the facts an operator asks first. */
export interface ServerInfo {
  /** cyberdb version. */
  version: string;
  /** Seconds since the server started listening. */
  uptime: number;
  /** Connections: open now, accepted since start, refused (whitelist, cap). */
  connections: { current: number; total: number; refused: number };
  /** Requests served since start. */
  requests: number;
  /**
   * Every table with its kind and number of entries or items, in creation order; a dict with
   * entries that have an expiry also says how many (expired ones not yet reclaimed included).
   */
  tables: { name: string; type: TableKind; size: number; expiring?: number }[];
  /** Memory of the server process, in bytes. */
  memory: { rss: number };
  /** The last snapshot written, or loaded at start (`loaded: true`), or `null` if none yet. */
  lastSnapshot: { at: Date; path: string; ok: boolean; error?: string; loaded?: boolean } | null;
  /** The journal, or `null` when not journaling. */
  journal: { path: string; size: number; epoch: number; fsync: string } | null;
  /** The slow log, newest first: only when asked for ({@link InfoOptions.slowlog}) and the engine keeps one. */
  slowlog?: SlowlogEntry[];
  /** One row per open connection: only when asked for ({@link InfoOptions.clients}) and the engine has them. */
  clients?: ClientInfo[];
}

/** What `info` reports beyond its summary (each is left out unless asked for). */
export interface InfoOptions {
  /** The slow log (Redis's `SLOWLOG GET`): the last 128 requests slower than `--slowlog-threshold`. */
  slowlog?: boolean;
  /** The connections (Redis's `CLIENT LIST`): address, age, idle time, requests, bytes queued. */
  clients?: boolean;
}

/** One request of the slow log. */
export interface SlowlogEntry {
  /** Rises by one per entry since the server started (entries past the last 128 are gone). */
  id: number;
  /** When the request was applied. */
  at: Date;
  /** Milliseconds it took to apply (decode, run, encode the reply; not the journal's fsync nor the network). */
  duration: number;
  /** Its op (`d.get`, `l.push`, …), or `?` when the request could not be read. */
  op: string;
  /** Its table (`""` for ops on the whole store). */
  table: string;
  /** Its arguments as text, cut to about 100 characters (as the error messages quote them). */
  args: string;
  /** The client's address (`host:port`, or `unix socket <path>`). */
  client: string;
}

/** One connection, as Redis's `CLIENT LIST` shows it. */
export interface ClientInfo {
  /** Rises by one per connection accepted since the server started. */
  id: number;
  /** The client's address (`host:port`, or `unix socket <path>`). */
  address: string;
  /** Seconds since it connected. */
  age: number;
  /** Seconds since its last request (since it connected, before the first). */
  idle: number;
  /** Requests it sent. */
  requests: number;
  /** Bytes of replies and change events written to it and not yet taken by the client. */
  queued: number;
  /** Whether it passed the handshake. */
  authenticated: boolean;
}
