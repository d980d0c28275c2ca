/**
 * How the shell shows values, tables and server facts: JSON-like text that
 * keeps apart what JSON cannot (`undefined`, bigints, Dates, bytes, numeric
 * keys). Pure functions, no I/O.
 *
 * @module
 */
import type { ClientInfo, ServerInfo, SlowlogEntry, TableInfo } from "../protocol/messages.ts";
import type { Key } from "./cyber_dict.ts";

/** Values longer than this on one line are shown indented, one item per line. */
const LINE_WIDTH = 80;
/** Bytes shown of a `Uint8Array` before the rest is elided. */
const BYTES_SHOWN = 32;

/**
 * Shows a value as JSON-like text: strings quoted, bigints as `12n`, Dates as
 * `Date(2024-05-01T12:00:00.000Z)`, bytes as `Uint8Array(3) [01 02 ff]`, a
 * missing value as `undefined`. Short arrays and objects stay on one line,
 * longer ones are indented by two spaces per level.
 *
 * @param value any value a table can hold, or `undefined`
 * @returns the text to print
 * @example
 * ```ts
 * import { formatValue } from "./format.ts";
 * console.log(formatValue({ n: 1n, tags: ["a", "b"] })); // {"n": 1n, "tags": ["a", "b"]}
 * ```
 */
export function formatValue(value: unknown): string {
  return show(value, "");
}

/**
 * Shows dict entries as an object literal; number keys stay unquoted, so
 * `1` and `"1"` are told apart.
 *
 * @param entries `[key, value]` pairs, as `CyberDict.entries()` returns them
 * @returns the text to print
 * @example
 * ```ts
 * import { formatEntries } from "./format.ts";
 * console.log(formatEntries([["a", 1], [2, "two"]])); // {"a": 1, 2: "two"}
 * ```
 */
export function formatEntries(entries: readonly (readonly [Key, unknown])[]): string {
  return showEntries(entries.map(([key, value]) => [showKey(key), value]), "");
}

function show(value: unknown, indent: string): string {
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string":
      return JSON.stringify(value);
    case "bigint":
      return `${value}n`;
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "boolean":
      return String(value);
  }
  if (value === null) return "null";
  if (value instanceof Date) {
    return `Date(${Number.isNaN(value.getTime()) ? "Invalid" : value.toISOString()})`;
  }
  if (value instanceof Uint8Array) return showBytes(value);
  if (Array.isArray(value)) {
    return showList(value.map((item) => show(item, `${indent}  `)), "[", "]", indent);
  }
  if (typeof value === "object") {
    return showEntries(Object.entries(value).map(([key, item]) => [JSON.stringify(key), item]), indent);
  }
  return String(value);
}

function showKey(key: Key): string {
  return typeof key === "number" ? show(key, "") : JSON.stringify(key);
}

function showEntries(entries: [string, unknown][], indent: string): string {
  return showList(entries.map(([key, item]) => `${key}: ${show(item, `${indent}  `)}`), "{", "}", indent);
}

function showList(items: string[], open: string, close: string, indent: string): string {
  if (items.length === 0) return `${open}${close}`;
  const line = `${open}${items.join(", ")}${close}`;
  if (line.length + indent.length <= LINE_WIDTH && !line.includes("\n")) return line;
  const inner = `${indent}  `;
  return `${open}\n${items.map((item) => `${inner}${item}`).join(",\n")}\n${indent}${close}`;
}

function showBytes(bytes: Uint8Array): string {
  const shown = [...bytes.subarray(0, BYTES_SHOWN)].map((byte) => byte.toString(16).padStart(2, "0"));
  if (bytes.length > BYTES_SHOWN) shown.push("…");
  return `Uint8Array(${bytes.length}) [${shown.join(" ")}]`;
}

/**
 * Shows the table list, one table per line: name and kind.
 *
 * @param tables as `proxy.tables()` returns them
 * @returns the text to print; `(no tables)` for none
 * @example
 * ```ts
 * import { formatTables } from "./format.ts";
 * console.log(formatTables([{ name: "centre", type: "CyberDict" }])); // centre  CyberDict
 * ```
 */
export function formatTables(tables: readonly TableInfo[]): string {
  if (tables.length === 0) return "(no tables)";
  const width = Math.max(...tables.map((table) => table.name.length));
  return tables.map((table) => `${table.name.padEnd(width)}  ${table.type}`).join("\n");
}

/**
 * Shows the server facts of `proxy.info()` as aligned lines, for a person.
 *
 * @param info as `proxy.info()` or `server.info()` returns it
 * @returns the text to print
 * @example
 * ```ts
 * import { Server } from "../../mod.ts";
 * import { formatInfo } from "./format.ts";
 * const server = new Server();
 * await server.start({ port: 0 });
 * console.log(formatInfo(server.info()));
 * await server.close();
 * ```
 */
export function formatInfo(info: ServerInfo): string {
  const snapshot = info.lastSnapshot;
  const lines: [string, string][] = [
    ["version", info.version],
    ["uptime", `${info.uptime.toFixed(1)} s`],
    [
      "connections",
      `${info.connections.current} open, ${info.connections.total} since start, ${info.connections.refused} refused`,
    ],
    ["requests", String(info.requests)],
    ["memory", `${formatBytes(info.memory.rss)} resident`],
    [
      "snapshot",
      snapshot === null
        ? "none yet"
        : `${
          snapshot.loaded ? "loaded" : snapshot.ok ? "saved" : `FAILED (${snapshot.error ?? "unknown error"})`
        } ${snapshot.path} at ${new Date(snapshot.at).toISOString()}`,
    ],
    [
      "journal",
      info.journal === null
        ? "off"
        : `${info.journal.path}, ${
          formatBytes(info.journal.size)
        }, epoch ${info.journal.epoch}, fsync ${info.journal.fsync}`,
    ],
    ["tables", String(info.tables.length)],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  const tableWidth = Math.max(0, ...info.tables.map((table) => table.name.length));
  return [
    ...lines.map(([label, text]) => `${label.padEnd(width)}  ${text}`),
    ...info.tables.map((table) => `  ${table.name.padEnd(tableWidth)}  ${table.type}  ${count(table)}`),
  ].join("\n");
}

/**
 * Shows the slow log of `proxy.info({ slowlog: true })`, one request per line, newest first: its id, when,
 * how long, op, table, arguments and client.
 *
 * @param entries as `info.slowlog` holds them
 * @returns the text to print; `(no slow requests)` for none
 * @example
 * ```ts
 * import { formatSlowlog } from "./format.ts";
 * const at = new Date(0);
 * console.log(formatSlowlog([{ id: 1, at, duration: 12.5, op: "d.get", table: "t", args: "1", client: "x:1" }]));
 * ```
 */
export function formatSlowlog(entries: readonly SlowlogEntry[]): string {
  if (entries.length === 0) return "(no slow requests)";
  return columns(
    ["id", "at", "ms", "op", "table", "client", "args"],
    entries.map((entry) => [
      String(entry.id),
      new Date(entry.at).toISOString(),
      entry.duration.toFixed(3),
      entry.op,
      entry.table,
      entry.client,
      entry.args,
    ]),
  );
}

/**
 * Shows the connections of `proxy.info({ clients: true })`, one per line, as Redis's `CLIENT LIST`:
 * id, address, age, idle time, requests, bytes queued, and whether it passed the handshake.
 *
 * @param clients as `info.clients` holds them
 * @returns the text to print; `(no connections)` for none
 * @example
 * ```ts
 * import { formatClients } from "./format.ts";
 * const row = { id: 1, address: "127.0.0.1:5000", age: 2, idle: 1, requests: 3, queued: 0, authenticated: true };
 * console.log(formatClients([row]));
 * ```
 */
export function formatClients(clients: readonly ClientInfo[]): string {
  if (clients.length === 0) return "(no connections)";
  return columns(
    ["id", "address", "age", "idle", "requests", "queued", "state"],
    clients.map((client) => [
      String(client.id),
      client.address,
      `${client.age.toFixed(1)} s`,
      `${client.idle.toFixed(1)} s`,
      String(client.requests),
      formatBytes(client.queued),
      client.authenticated ? "ready" : "handshake",
    ]),
  );
}

/** Rows of words under a header, each column as wide as its widest word (the last one left as is). */
function columns(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, at) => Math.max(...all.map((row) => row[at].length)));
  return all.map((row) => row.map((word, at) => at === row.length - 1 ? word : word.padEnd(widths[at])).join("  "))
    .join("\n");
}

function count(table: ServerInfo["tables"][number]): string {
  const [one, many] = table.type === "CyberDict" ? ["entry", "entries"] : ["item", "items"];
  return `${table.size} ${table.size === 1 ? one : many}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
