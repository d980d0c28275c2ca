/**
 * An interactive prompt with line editing, for the shell, on `node:readline`
 * (both runtimes have it; fetched with `process.getBuiltinModule`, so nothing
 * is loaded until a prompt is opened): arrow keys and Emacs keys edit the
 * line, Up and Down walk the history, Tab completes, Ctrl-C clears the line,
 * Ctrl-D on an empty line ends the input.
 *
 * @module
 */
import type * as Readline from "node:readline";
import type { LineEditor, LineEditorOptions } from "./interface.ts";

interface ProcessWithStdio {
  getBuiltinModule(id: "node:readline"): typeof Readline;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/**
 * Opens a prompt on the terminal.
 *
 * @param options the prompt, the history to start from and the completer
 * @returns the editor: `read()` each line, `close()` when done
 */
export function openLineEditor(options: LineEditorOptions): LineEditor {
  const process = (globalThis as unknown as { process: ProcessWithStdio }).process;
  const readline = process.getBuiltinModule("node:readline");
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    prompt: options.prompt,
    // readline wants the newest entry first.
    history: [...options.history].reverse(),
    historySize: options.historySize,
    removeHistoryDuplicates: true,
    completer: (line: string, done: (error: Error | null, result: [string[], string]) => void) => {
      options.complete(line).then((result) => done(null, result), () => done(null, [[], line]));
    },
  });
  const lines: string[] = [];
  let waiting: ((line: string | null) => void) | undefined;
  let closed = false;
  rl.on("line", (line) => {
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve(line);
    } else lines.push(line);
  });
  rl.on("close", () => {
    closed = true;
    waiting?.(null);
    waiting = undefined;
  });
  // Ctrl-C: the line typed so far is dropped and a fresh prompt shown, as in bash and redis-cli.
  rl.on("SIGINT", () => {
    rl.write(null, { ctrl: true, name: "e" });
    rl.write(null, { ctrl: true, name: "u" });
    process.stdout.write("^C\n");
    rl.prompt();
  });
  return {
    read() {
      if (lines.length > 0) return Promise.resolve(lines.shift()!);
      if (closed) return Promise.resolve(null);
      rl.prompt();
      return new Promise((resolve) => waiting = resolve);
    },
    close() {
      if (!closed) rl.close();
    },
  };
}
