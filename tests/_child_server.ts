/**
 * Test helper: a cyberdb server as a child process (`server.ts`, or another
 * script of this repository) in the runtime the tests run in — `deno run -A
 * server.ts` under Deno, `node server.js` from the npm build under Node —
 * its stdout and stderr captured, with waits that are bounded in time and a
 * `kill()` for `finally`.
 *
 * @module
 */
import process from "node:process";
import { runtime } from "../src/runtime/mod.ts";
import { type Exit, freePort, IS_DENO, start } from "./_spawn.ts";

export { freePort };

/** The log line a server prints once it listens; group 1 is the port. */
export const LISTENING = /listening on \S+:(\d+)/;

/** Waits until something accepts TCP connections on a loopback port (for a `--quiet` server). */
export async function waitForPort(port: number, ms = 30_000): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    try {
      (await runtime.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`nothing listens on port ${port} after ${ms} ms`);
}

/** A child process running a script of this repository. */
export interface ChildServer {
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Waits for `pattern` on stderr; fails if the child exits first or after `ms`. */
  waitForStderr(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Waits for the exit, at most `ms`; fails (leaving the child to `kill()`) after that. */
  exit(ms?: number): Promise<Exit>;
  /** Sends a signal, unless it already exited. */
  signal(signal: NodeJS.Signals): void;
  /** Kills the child with SIGKILL if it still runs and waits for it and its output; for `finally`. */
  kill(): Promise<Exit>;
}

/**
 * Runs a script of this repository with its output captured: `deno run -A
 * <script>` under Deno; under Node, its compiled `.js` beside the compiled
 * tests (`server.ts` → the npm build's `server.js`).
 *
 * @param script a path relative to the repository root
 */
export function spawnScript(script: string, args: string[], env: Record<string, string> = {}): ChildServer {
  const child = IS_DENO
    ? start(process.execPath, ["run", "-A", script, ...args], { env })
    : start(process.execPath, [script.replace(/\.ts$/, ".js"), ...args], { env });
  return {
    get stdout() {
      return child.stdout;
    },
    get stderr() {
      return child.stderr;
    },
    get exited() {
      return child.exited !== undefined;
    },
    async waitForStderr(pattern: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        const match = child.stderr.match(pattern);
        if (match) return match;
        if (child.exited) {
          await child.exit();
          const late = child.stderr.match(pattern);
          if (late) return late;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(
        `no ${pattern} on stderr (${child.exited ? "the server exited" : `after ${ms} ms`}):\n${child.stderr}`,
      );
    },
    exit: (ms = 30_000) => child.exit(ms),
    signal: (signal) => child.signal(signal),
    kill: () => child.stop("SIGKILL"),
  };
}

/** Runs the server command (`server.ts`) with its output captured. */
export function spawnServer(args: string[], env: Record<string, string> = {}): ChildServer {
  return spawnScript("server.ts", args, env);
}
