/**
 * Helpers for benchmarks: free ports, and servers started as child processes
 * on loopback that are always stopped.
 *
 * @module
 */

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname;

/** A port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A child process that is killed when disposed. */
export interface Child extends AsyncDisposable {
  process: Deno.ChildProcess;
}

/**
 * Starts a command (with extra environment variables `env`) and waits (at most `timeoutMs`) until `ready`
 * matches a line of its stderr or stdout.
 */
export async function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  timeoutMs = 30_000,
  env?: Record<string, string>,
): Promise<Child> {
  const process = new Deno.Command(command, {
    args,
    env,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  })
    .spawn();
  const deadline = setTimeout(() => process.kill("SIGKILL"), timeoutMs);
  const seen: string[] = [];
  const found = await Promise.any(
    [process.stderr, process.stdout].map(async (stream) => {
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of stream) {
        text += decoder.decode(chunk, { stream: true });
        seen.push(text);
        if (ready.test(text)) {
          // Keep draining so the child never blocks on a full pipe.
          (async () => {
            for await (const _ of stream) { /* discard */ }
          })().catch(() => {});
          return true;
        }
      }
      throw new Error("stream ended");
    }),
  ).catch(() => false);
  clearTimeout(deadline);
  if (!found) {
    process.kill("SIGKILL");
    throw new Error(
      `${command} ${args.join(" ")} did not become ready:\n${seen.join("").slice(-2000)}`,
    );
  }
  return {
    process,
    async [Symbol.asyncDispose]() {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await process.status;
      clearTimeout(timer);
    },
  };
}

/** Runs a command to completion and returns its stdout. */
export async function run(command: string, args: string[]): Promise<string> {
  const { stdout, stderr, success } = await new Deno.Command(command, {
    args,
    cwd: ROOT,
  }).output();
  if (!success) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return new TextDecoder().decode(stdout);
}

/** Whether a command is on the PATH. */
export async function have(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("which", {
      args: [command],
      stdout: "null",
      stderr: "null",
    }).output()).success;
  } catch {
    return false;
  }
}
