/**
 * Claiming a Unix domain socket path before binding it, for both runtimes:
 * a socket file left by a crash (nothing accepts on it) is replaced; a path
 * a live server holds, or a file that is not a socket, is refused with a
 * message saying what to do.
 *
 * @module
 */

/** What {@link claimSocketPath} asks of the runtime. */
export interface SocketPathProbe {
  /** What is at `path` now. */
  kind(path: string): Promise<"missing" | "socket" | "other">;
  /** Whether a connection to the socket at `path` is accepted (a live server holds it). */
  connects(path: string): Promise<boolean>;
  /** Removes the file at `path`. */
  remove(path: string): Promise<void>;
}

/**
 * Makes `path` free to bind: nothing there, or a stale socket file removed.
 *
 * @param path the socket's path
 * @param probe the runtime's file and socket calls
 * @throws {Error} when a live server holds `path`, or `path` is a file that is not a socket
 */
export async function claimSocketPath(path: string, probe: SocketPathProbe): Promise<void> {
  const kind = await probe.kind(path);
  if (kind === "missing") return;
  if (kind === "other") {
    throw new Error(`${path} exists and is not a socket; refusing to replace it: remove it or pick another path`);
  }
  if (await probe.connects(path)) {
    throw new Error(`${path} is held by a running server; stop that server or pick another socket path`);
  }
  await probe.remove(path); // left by a server that did not shut down cleanly
}

/** The error for a path taken between the claim and the bind. */
export function socketInUse(path: string, cause: unknown): Error {
  return new Error(`${path} is already in use; stop the other server or pick another socket path`, { cause });
}
