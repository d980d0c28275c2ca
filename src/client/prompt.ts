/**
 * The shell's interactive prompt, for a person at a terminal: line editing
 * (through the runtime's `node:readline` editor), history kept in a file
 * across sessions as redis-cli keeps `~/.rediscli_history`, Tab completion of
 * commands and table names, Ctrl-C clearing the line and Ctrl-D leaving.
 *
 * The history file is `$CYBERDB_HISTORY`, else `~/.cyberdb_history`; an
 * empty `CYBERDB_HISTORY` keeps no history.
 *
 * @module
 */
import { runtime } from "../runtime/mod.ts";

/** Lines of history kept. */
export const HISTORY_SIZE = 500;

/** The command names, for Tab completion. */
const COMMANDS = [
  "tables",
  "create",
  "drop",
  "get",
  "set",
  "del",
  "incr",
  "push",
  "pop",
  "len",
  "keys",
  "show",
  "info",
  "slowlog",
  "clients",
  "help",
  "quit",
];
/** The commands whose first argument is a table. */
const TABLE_FIRST = new Set(["drop", "get", "set", "del", "incr", "push", "pop", "len", "keys", "show"]);

/**
 * Completions for a line typed so far at the prompt (Tab): a command name
 * for the first word, a table name where a command takes one, `dict` or
 * `list` after `create`.
 *
 * @param line the line up to the cursor
 * @param tables the names of the tables there are
 * @returns the candidates and the word they complete
 * @example
 * ```ts
 * import { complete } from "./prompt.ts";
 * console.log(complete("sh", [])); // [ [ "show " ], "sh" ]
 * console.log(complete("get ce", ["centre", "log"])); // [ [ "centre " ], "ce" ]
 * ```
 */
export function complete(line: string, tables: readonly string[]): [string[], string] {
  const words = line.split(/\s+/);
  if (words[0] === "") words.shift();
  const word = words.length === 0 ? "" : words[words.length - 1];
  const index = Math.max(0, words.length - 1);
  const first = (words[0] ?? "").toLowerCase();
  let candidates: readonly string[] = [];
  if (index === 0) candidates = COMMANDS;
  else if (index === 1 && TABLE_FIRST.has(first)) candidates = tables;
  else if (index === 1 && first === "create") candidates = ["dict", "list"];
  return [candidates.filter((candidate) => candidate.startsWith(word)).map((candidate) => `${candidate} `), word];
}

/** The history file's path, or `undefined` when no history is kept. */
export function historyPath(): string | undefined {
  const set = runtime.env("CYBERDB_HISTORY");
  if (set !== undefined) return set === "" ? undefined : set;
  const home = runtime.env("HOME") ?? runtime.env("USERPROFILE");
  return home === undefined ? undefined : `${home}/.cyberdb_history`;
}

/** What the prompt needs from the shell. */
export interface PromptHandlers {
  /** Runs one line; resolves to the text to print, or `"quit"` to leave. */
  line(line: string): Promise<string | "quit">;
  /** The names of the tables, for completion. */
  tables(): Promise<string[]>;
}

/**
 * Runs the prompt until `quit` or Ctrl-D, keeping the history file.
 *
 * @param prompt the prompt text
 * @param handlers runs each line and lists the tables
 */
export async function runPrompt(prompt: string, handlers: PromptHandlers): Promise<void> {
  const path = historyPath();
  const history = path === undefined ? [] : await readHistory(path);
  const editor = runtime.lineEditor({
    prompt,
    history,
    historySize: HISTORY_SIZE,
    complete: async (line) => complete(line, await handlers.tables()),
  });
  try {
    for (let line = await editor.read(); line !== null; line = await editor.read()) {
      if (line.trim() !== "" && history[history.length - 1] !== line) {
        history.push(line);
        if (history.length > HISTORY_SIZE) history.splice(0, history.length - HISTORY_SIZE);
        if (path !== undefined) await saveHistory(path, history);
      }
      const output = await handlers.line(line);
      if (output === "quit") break;
      await runtime.print(output);
    }
  } finally {
    editor.close();
  }
}

async function readHistory(path: string): Promise<string[]> {
  try {
    const text = new TextDecoder().decode(await runtime.readFile(path));
    return text.split("\n").filter((line) => line !== "").slice(-HISTORY_SIZE);
  } catch {
    return []; // no history yet
  }
}

async function saveHistory(path: string, history: readonly string[]): Promise<void> {
  try {
    await runtime.writeFileAtomic(path, new TextEncoder().encode(history.join("\n") + "\n"));
  } catch (error) {
    console.error(`cannot save the history to ${path}: ${(error as Error).message} (CYBERDB_HISTORY= keeps none)`);
  }
}
