/**
 * Test helper: child processes over `node:child_process` (so the tests that
 * use it run under Deno and Node alike), their output captured, every wait
 * bounded, and a `stop()` for `finally`.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root, as a path. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** Whether these tests run under Deno (else Node). */
export const IS_DENO: boolean = "Deno" in globalThis;

/** How a child process ended. */
export interface Exit {
  /** The exit code, or `null` when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: string | null;
}

/** A running child process. */
export interface Child {
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /** The exit, once it happened. */
  readonly exited: Exit | undefined;
  /** Writes to its stdin and closes it. */
  input(text: string): void;
  /** Waits for `pattern` in stdout + stderr; fails when the child exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Waits for the exit, at most `ms`; fails after that (leaving the child to `stop()`). */
  exit(ms?: number): Promise<Exit>;
  /** Sends a signal unless it already exited. */
  signal(signal: NodeJS.Signals): void;
  /** Sends `signal`, waits up to `ms` for the exit, then SIGKILLs and waits for it; for `finally`. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<Exit>;
}

/** The environment of this process without CYBERDB_* variables, plus `extra`. */
export function environment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("CYBERDB_")) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...extra };
}

function timeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(what())), ms)),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Starts `command` with `args` from the repository root (or `cwd`), stdin piped.
 *
 * @param command the program: `process.execPath` for this runtime
 * @param args its arguments
 * @param options `env` (added to {@link environment}) and `cwd`
 */
export function start(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Child {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: environment(options.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "", stderr = "";
  let exited: Exit | undefined;
  child.stdout!.setEncoding("utf8").on("data", (text: string) => stdout += text);
  child.stderr!.setEncoding("utf8").on("data", (text: string) => stderr += text);
  child.stdin!.on("error", () => {}); // a child that exits before reading its input
  const done = new Promise<Exit>((resolve) => {
    child.on("error", (error) => {
      stderr += `spawn failed: ${error.message}\n`;
      exited = { code: -1, signal: null };
      resolve(exited);
    });
    child.on("close", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  const describe = () => `${command} ${args.join(" ")}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`;
  const self: Child = {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get exited() {
      return exited;
    },
    input(text) {
      child.stdin!.end(text);
    },
    async waitFor(pattern, ms = 60_000) {
      const until = performance.now() + ms;
      for (;;) {
        const match = stdout.match(pattern) ?? stderr.match(pattern);
        if (match) return match;
        if (exited || performance.now() > until) {
          throw new Error(`no ${pattern} (${exited ? "the process exited" : `after ${ms} ms`}): ${describe()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    exit(ms = 60_000) {
      return timeout(done, ms, () => `did not exit within ${ms} ms: ${describe()}`);
    },
    signal(signal) {
      // process.kill, not child.kill: after child.kill(), Deno's node:child_process reports the signal
      // sent as the way the child ended even when it exited with a code, and refuses a second signal
      // (denoland/deno#36643).
      if (exited || child.pid === undefined) return;
      try {
        process.kill(child.pid, signal);
      } catch {
        // it exited in the meantime
      }
    },
    async stop(signal = "SIGKILL", ms = 10_000) {
      self.signal(signal);
      try {
        return await self.exit(ms);
      } catch {
        self.signal("SIGKILL");
        return await done;
      }
    },
  };
  return self;
}

/**
 * Runs a command to its end with `input` on stdin; killed after `ms`.
 *
 * @returns its exit and everything it wrote
 */
export async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string; ms?: number } = {},
): Promise<Exit & { stdout: string; stderr: string }> {
  const child = start(command, args, options);
  try {
    child.input(options.input ?? "");
    const exit = await child.exit(options.ms ?? 60_000);
    return { ...exit, stdout: child.stdout, stderr: child.stderr };
  } finally {
    await child.stop();
  }
}

/** A free loopback port: bound, read and released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")));
    });
  });
}
