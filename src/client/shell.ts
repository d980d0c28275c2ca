/**
 * The shell's commands: a line (or the words of a command line) parsed into a
 * {@link Command}, run against a {@link Proxy}, answered with text to print.
 * No I/O of its own: `cli.ts` reads the lines and prints the answers.
 *
 * @module
 */
import { NoSuchTableError, WrongTypeError } from "../errors.ts";
import type { TableKind } from "../protocol/messages.ts";
import { CyberDict, type Key } from "./cyber_dict.ts";
import { CyberList } from "./cyber_list.ts";
import { formatClients, formatEntries, formatInfo, formatSlowlog, formatTables, formatValue } from "./format.ts";
import type { Proxy } from "./proxy.ts";

/** A command the shell understands. */
export type Command =
  | { name: "help" | "quit" | "tables" | "info" | "slowlog" | "clients" }
  | { name: "get" | "del"; table: string; key: Key }
  | { name: "set"; table: string; key: Key; value: unknown }
  | { name: "incr"; table: string; key: Key; by: number }
  | { name: "push"; table: string; value: unknown }
  | { name: "pop"; table: string; index?: number }
  | { name: "len" | "keys" | "show" | "drop"; table: string }
  | { name: "create"; kind: "dict" | "list"; table: string };

/** A command line the shell cannot make sense of: unknown command, missing argument, bad key. */
export class UsageError extends Error {
  /**
   * Makes the error.
   *
   * @param message what is wrong and how the command is written
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The `help` text. */
export const HELP = `Commands (values are JSON, or plain text when not valid JSON; 12n is a bigint;
a key that looks like a number is a number, quote it for a string: "2024"):
  tables                       list the tables
  create dict|list <table>     create a table
  drop <table>                 delete a table and everything in it
  get <table> <key|index>      read a value (a list takes an index, negative from the end)
  set <table> <key|index> <value>
                               write a value
  del <table> <key|index>      delete a key (prints whether it existed) or remove a list item (prints it)
  incr <table> <key> [by]      add to a number atomically (a missing key starts at 0)
  push <list> <value>          append to a list (prints the new length)
  pop <list> [index]           remove and print the last item, or the one at index
  len <table>                  number of entries or items
  keys <dict>                  the keys of a dict
  show <table>                 the whole table
  info                         uptime, connections, requests, table sizes, memory, snapshot, journal
  slowlog                      the last 128 requests slower than the server's --slowlog-threshold, newest first
  clients                      the connections: address, age, idle time, requests, bytes queued
  help                         this text
  quit                         leave (also exit, or end of input)`;

const USAGES: Record<string, string> = {
  get: "get <table> <key|index>",
  set: "set <table> <key|index> <value>",
  del: "del <table> <key|index>",
  incr: "incr <table> <key> [by]",
  push: "push <list> <value>",
  pop: "pop <list> [index]",
  len: "len <table>",
  keys: "keys <dict>",
  show: "show <table>",
  drop: "drop <table>",
  create: "create dict|list <table>",
};

/**
 * Splits a line into words at whitespace; a double-quoted part keeps its
 * spaces (`"my key"` is one word, quotes included).
 *
 * @param line one line of input
 * @returns each word and where it starts in the line
 */
function tokenize(line: string): { word: string; start: number }[] {
  const words: { word: string; start: number }[] = [];
  let at = 0;
  while (at < line.length) {
    while (at < line.length && /\s/.test(line[at])) at++;
    if (at >= line.length) break;
    const start = at;
    let quoted = false;
    for (; at < line.length && (quoted || !/\s/.test(line[at])); at++) {
      if (line[at] === "\\" && quoted) at++;
      else if (line[at] === '"') quoted = !quoted;
    }
    words.push({ word: line.slice(start, at), start });
  }
  return words;
}

/**
 * Parses one line typed at the prompt. The value of `set` and `push` is the
 * rest of the line, so `set centre user {"name": "Ada Lovelace"}` needs no
 * extra quoting.
 *
 * @param line the line, without its line ending
 * @returns the command, or `undefined` for a blank line
 * @throws {UsageError} for an unknown command or missing or malformed arguments
 * @example
 * ```ts
 * import { parseLine } from "./shell.ts";
 * console.log(parseLine("set centre n 1")); // { name: "set", table: "centre", key: "n", value: 1 }
 * ```
 */
export function parseLine(line: string): Command | undefined {
  const tokens = tokenize(line);
  if (tokens.length === 0) return undefined;
  return build(tokens.map((token) => token.word), (index) => line.slice(tokens[index].start).trim());
}

/**
 * Parses a command given as separate words, as on a command line
 * (`client.ts set centre n 1`). The value of `set` and `push` is the
 * remaining words joined by spaces.
 *
 * @param words the command and its arguments
 * @returns the command
 * @throws {UsageError} for no words, an unknown command or missing or malformed arguments
 * @example
 * ```ts
 * import { parseWords } from "./shell.ts";
 * console.log(parseWords(["get", "centre", "content"])); // { name: "get", table: "centre", key: "content" }
 * ```
 */
export function parseWords(words: readonly string[]): Command {
  if (words.length === 0) throw new UsageError("no command given; try help");
  return build(words, (index) => words.slice(index).join(" "));
}

function build(words: readonly string[], rest: (index: number) => string): Command {
  const name = words[0].toLowerCase();
  const count = words.length - 1;
  const arity = (min: number, max = min) => {
    if (count < min || count > max) {
      throw new UsageError(USAGES[name] ? `usage: ${USAGES[name]}` : `${name} takes no arguments`);
    }
  };
  switch (name) {
    case "help":
    case "tables":
    case "info":
    case "slowlog":
    case "clients":
      arity(0);
      return { name };
    case "quit":
    case "exit":
      arity(0);
      return { name: "quit" };
    case "get":
    case "del":
      arity(2);
      return { name, table: parseName(words[1]), key: parseKey(words[2]) };
    case "set":
      arity(3, Infinity);
      return { name, table: parseName(words[1]), key: parseKey(words[2]), value: parseValue(rest(3)) };
    case "incr":
      arity(2, 3);
      return { name, table: parseName(words[1]), key: parseKey(words[2]), by: count === 3 ? parseNumber(words[3]) : 1 };
    case "push":
      arity(2, Infinity);
      return { name, table: parseName(words[1]), value: parseValue(rest(2)) };
    case "pop":
      arity(1, 2);
      return { name, table: parseName(words[1]), index: count === 2 ? parseIndex(words[2]) : undefined };
    case "len":
    case "keys":
    case "show":
    case "drop":
      arity(1);
      return { name, table: parseName(words[1]) };
    case "create": {
      arity(2);
      const kind = words[1].toLowerCase();
      if (kind !== "dict" && kind !== "list") throw new UsageError(`usage: ${USAGES.create}`);
      return { name, kind, table: parseName(words[2]) };
    }
  }
  throw new UsageError(`unknown command ${JSON.stringify(words[0])}; type help for the list`);
}

function unquote(word: string, what: string): string {
  try {
    const text = JSON.parse(word);
    if (typeof text === "string") return text;
  } catch {
    // reported below
  }
  throw new UsageError(`${what} ${word} is not a valid quoted string`);
}

function parseName(word: string): string {
  return word.startsWith('"') ? unquote(word, "table name") : word;
}

/**
 * A key as typed: a quoted string is that string, a decimal number is a
 * number, anything else is the text itself.
 */
function parseKey(word: string): Key {
  if (word.startsWith('"')) return unquote(word, "key");
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(word)) return Number(word);
  return word;
}

function parseNumber(word: string): number {
  const value = Number(word);
  if (word.trim() === "" || !Number.isFinite(value)) throw new UsageError(`${word} is not a number`);
  return value;
}

function parseIndex(word: string): number {
  if (!/^-?\d+$/.test(word)) throw new UsageError(`a list index is an integer, got ${word}`);
  return Number(word);
}

/**
 * Parses a typed value: JSON (`1`, `"x"`, `[1, 2]`, `{"a": true}`, `null`),
 * a bigint written `12n`, or else the text itself as a string, so that
 * `push log hello world` pushes `"hello world"`.
 *
 * @param text the value as typed
 * @returns the value to store
 * @throws {UsageError} for empty text
 * @example
 * ```ts
 * import { parseValue } from "./shell.ts";
 * console.log(parseValue("[1, 2]"), parseValue("12n"), parseValue("x")); // [ 1, 2 ] 12n x
 * ```
 */
export function parseValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") throw new UsageError("a value is missing");
  if (/^-?\d+n$/.test(trimmed)) return BigInt(trimmed.slice(0, -1));
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}

async function tableKind(proxy: Proxy, table: string, create: "dict" | "list"): Promise<TableKind> {
  const found = (await proxy.tables()).find((info) => info.name === table);
  if (found === undefined) {
    throw new NoSuchTableError(`no table ${JSON.stringify(table)}; create it with \`create ${create} ${table}\``);
  }
  return found.type;
}

async function dict(proxy: Proxy, table: string, command: string): Promise<CyberDict> {
  if (await tableKind(proxy, table, "dict") !== "CyberDict") {
    throw new WrongTypeError(`${table} is a list; ${command} works on dicts`);
  }
  return new CyberDict(proxy, table);
}

async function list(proxy: Proxy, table: string, command: string): Promise<CyberList> {
  if (await tableKind(proxy, table, "list") !== "CyberList") {
    throw new WrongTypeError(`${table} is a dict; ${command} works on lists`);
  }
  return new CyberList(proxy, table);
}

async function table(proxy: Proxy, table: string): Promise<CyberDict | CyberList> {
  return await tableKind(proxy, table, "dict") === "CyberDict"
    ? new CyberDict(proxy, table)
    : new CyberList(proxy, table);
}

function index(key: Key): number {
  if (typeof key !== "number" || !Number.isInteger(key)) {
    throw new UsageError(`a list takes an integer index, got ${formatValue(key)}`);
  }
  return key;
}

/**
 * Runs a command over a connected proxy.
 *
 * @param proxy a connected proxy
 * @param command a parsed command other than `quit`
 * @returns the text to print, without a final newline
 * @throws {CyberDBError} as the server answers, e.g. `NO_SUCH_TABLE` (with a hint to create it)
 * @throws {UsageError} for a non-integer list index
 * @example
 * ```ts
 * import { connect, Server } from "../../mod.ts";
 * import { parseLine, runCommand } from "./shell.ts";
 * const server = new Server();
 * const { port } = await server.start({ port: 0 });
 * const client = await connect({ port });
 * {
 *   await using proxy = await client.getProxy().connect();
 *   await runCommand(proxy, parseLine("create dict centre")!);
 *   console.log(await runCommand(proxy, parseLine("incr centre hits")!)); // 1
 * }
 * await client.close();
 * await server.close();
 * ```
 */
export async function runCommand(proxy: Proxy, command: Command): Promise<string> {
  switch (command.name) {
    case "help":
      return HELP;
    case "quit":
      return "";
    case "tables":
      return formatTables(await proxy.tables());
    case "info":
      return formatInfo(await proxy.info());
    case "slowlog": {
      const { slowlog } = await proxy.info({ slowlog: true });
      return slowlog === undefined ? "(this engine keeps no slow log; a cyberdb server does)" : formatSlowlog(slowlog);
    }
    case "clients": {
      const { clients } = await proxy.info({ clients: true });
      return clients === undefined ? "(this engine has no client list; a cyberdb server does)" : formatClients(clients);
    }
    case "create":
      if (command.kind === "dict") await proxy.createCyberDict(command.table);
      else await proxy.createCyberList(command.table);
      return "OK";
    case "drop":
      await proxy.deleteTable(command.table);
      return "OK";
    case "get": {
      const handle = await table(proxy, command.table);
      return formatValue(
        handle instanceof CyberDict ? await handle.get(command.key) : await handle.at(index(command.key)),
      );
    }
    case "set": {
      const handle = await table(proxy, command.table);
      if (handle instanceof CyberDict) await handle.set(command.key, command.value);
      else await handle.set(index(command.key), command.value);
      return "OK";
    }
    case "del": {
      const handle = await table(proxy, command.table);
      return formatValue(
        handle instanceof CyberDict ? await handle.delete(command.key) : await handle.pop(index(command.key)),
      );
    }
    case "incr":
      return formatValue(await (await dict(proxy, command.table, "incr")).increment(command.key, command.by));
    case "push":
      return formatValue(await (await list(proxy, command.table, "push")).push(command.value));
    case "pop":
      return formatValue(await (await list(proxy, command.table, "pop")).pop(command.index));
    case "len": {
      const handle = await table(proxy, command.table);
      return formatValue(handle instanceof CyberDict ? await handle.size() : await handle.length());
    }
    case "keys":
      return formatValue(await (await dict(proxy, command.table, "keys")).keys());
    case "show": {
      const handle = await table(proxy, command.table);
      return handle instanceof CyberDict ? formatEntries(await handle.entries()) : formatValue(await handle.toArray());
    }
  }
}
