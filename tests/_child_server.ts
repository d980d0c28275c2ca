/**
 * Test helper: a cyberdb server as a child process (`server.ts`, or another
 * script of this repository), its stdout and stderr captured, with waits that
 * are bounded in time and a `kill()` for `finally`.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** The log line a server prints once it listens; group 1 is the port. */
export const LISTENING = /listening on \S+:(\d+)/;

/** A free loopback port: bound, read and released. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Waits until something accepts TCP connections on a loopback port (for a `--quiet` server). */
export async function waitForPort(port: number, ms = 30_000): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`nothing listens on port ${port} after ${ms} ms`);
}

/** The environment of this process without CYBERDB_PASSWORD, plus `extra`. */
function environment(extra: Record<string, string> = {}) {
  const env = Deno.env.toObject();
  delete env.CYBERDB_PASSWORD;
  return { ...env, NO_COLOR: "1", ...extra };
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    onText(decoder.decode(chunk, { stream: true }));
  }
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
  exit(ms?: number): Promise<Deno.CommandStatus>;
  /** Sends a signal, unless it already exited. */
  signal(signal: Deno.Signal): void;
  /** Kills the child with SIGKILL if it still runs and waits for it and its output; for `finally`. */
  kill(): Promise<Deno.CommandStatus>;
}

/**
 * Runs `deno run -A <script> ...args` from the repository root with its output captured.
 *
 * @param script a path relative to the repository root
 */
export function spawnScript(script: string, args: string[], env: Record<string, string> = {}): ChildServer {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: ROOT,
    env: environment(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "", stderr = "";
  const reading = Promise.all([
    collect(child.stdout, (text) => stdout += text),
    collect(child.stderr, (text) => stderr += text),
  ]).catch(() => {});
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get exited() {
      return exited;
    },
    async waitForStderr(pattern: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        const match = stderr.match(pattern);
        if (match) return match;
        if (exited) {
          await reading;
          const late = stderr.match(pattern);
          if (late) return late;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(
        `no ${pattern} on stderr (${exited ? "the server exited" : `after ${ms} ms`}):\n${stderr}`,
      );
    },
    async exit(ms = 30_000): Promise<Deno.CommandStatus> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const result = await Promise.race([
          status,
          new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
        ]);
        if (result === undefined) {
          throw new Error(`the server did not exit within ${ms} ms:\n${stderr}`);
        }
        await reading;
        return result;
      } finally {
        clearTimeout(timer);
      }
    },
    signal(signal: Deno.Signal): void {
      if (!exited) child.kill(signal);
    },
    async kill(): Promise<Deno.CommandStatus> {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // it exited in the meantime
        }
      }
      const result = await status;
      await reading;
      return result;
    },
  };
}

/** Runs `deno run -A server.ts ...args` with its output captured. */
export function spawnServer(args: string[], env: Record<string, string> = {}): ChildServer {
  return spawnScript("server.ts", args, env);
}
