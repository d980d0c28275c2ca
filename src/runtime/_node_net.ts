/**
 * TCP for the Node runtime over `node:net`: Node pushes what arrives, the
 * {@link Conn} interface pulls, so each connection queues chunks and pauses
 * its socket while the reader is behind.
 *
 * @module
 */
import type * as Net from "node:net";
import type { Addr, Conn, Listener } from "./interface.ts";
import { node, type NodeError, plain } from "./_node_builtins.ts";
import { claimSocketPath, socketInUse, type SocketPathProbe } from "./_unix_socket.ts";

/** Bytes queued unread before the socket is paused; it resumes once the reader has taken them. */
const HIGH_WATER = 1024 * 1024;
/** Most bytes handed out by one `read()` when several chunks are queued. */
const READ_CHUNK = 256 * 1024;

function isDisconnect(error: NodeError): boolean {
  return error.code === "ECONNRESET" || error.code === "EPIPE" || error.code === "ECONNABORTED" ||
    error.code === "ERR_STREAM_DESTROYED";
}

/**
 * A Node socket behind the pull-based {@link Conn}: pushed chunks are queued
 * and the socket is paused while more than {@link HIGH_WATER} bytes wait.
 */
export class NodeConn implements Conn {
  readonly remoteAddr: Addr;
  bytesRead = 0;
  bytesWritten = 0;
  #socket: Net.Socket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #closed = false;
  #error: Error | undefined;
  #waiting: { resolve(chunk: Uint8Array | null): void; reject(error: Error): void } | undefined;

  /**
   * @param socket a TCP or Unix socket
   * @param path the socket's path, for a Unix socket
   */
  constructor(socket: Net.Socket, path?: string) {
    this.#socket = socket;
    if (path === undefined) {
      socket.setNoDelay(true);
      this.remoteAddr = { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    } else {
      this.remoteAddr = { hostname: "", port: 0, path };
    }
    socket.on("data", (chunk: Uint8Array) => this.#push(plain(chunk)));
    socket.on("end", () => this.#end());
    socket.on("close", () => this.#end());
    socket.on("error", (error: NodeError) => {
      if (!isDisconnect(error)) this.#error ??= error;
      this.#end();
    });
  }

  #push(chunk: Uint8Array): void {
    this.bytesRead += chunk.length;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve(chunk);
      return;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued >= HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    if (this.#error && !this.#closed) waiting.reject(this.#error);
    else waiting.resolve(null);
  }

  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    if (this.#queue.length > 0) return Promise.resolve(this.#take());
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  /** Takes the queued chunks, several joined into one while they fit in {@link READ_CHUNK}. */
  #take(): Uint8Array {
    const queue = this.#queue;
    let count = 1;
    let size = queue[0].length;
    while (count < queue.length && size + queue[count].length <= READ_CHUNK) size += queue[count++].length;
    let chunk: Uint8Array;
    if (count === 1) {
      chunk = queue[0];
    } else {
      chunk = new Uint8Array(size);
      for (let i = 0, at = 0; i < count; at += queue[i].length, i++) chunk.set(queue[i], at);
    }
    queue.splice(0, count);
    this.#queued -= size;
    if (this.#paused && this.#queued < HIGH_WATER / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return chunk;
  }

  write(data: Uint8Array): Promise<void> {
    this.bytesWritten += data.length;
    if (this.#closed || this.#socket.destroyed) {
      return Promise.reject(new Error("the connection is closed"));
    }
    // Accepted into the socket's buffer: order is kept by the stream, and a later failure shows up
    // as an error or close event, which ends reading and so the channel. Wait only for backpressure.
    if (this.#socket.write(data)) return Promise.resolve();
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const drained = () => {
        socket.off("close", gone);
        resolve();
      };
      const gone = () => {
        socket.off("drain", drained);
        reject(new Error("the connection closed before its data was sent"));
      };
      socket.once("drain", drained);
      socket.once("close", gone);
    });
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || socket.destroyed) return Promise.reject(new Error("the connection is closed"));
    return new Promise((resolve, reject) => {
      socket.end();
      const ended = () => {
        socket.off("close", gone);
        resolve();
      };
      const gone = () => {
        socket.off("finish", ended);
        reject(new Error("the connection closed before its end was sent"));
      };
      socket.once("finish", ended);
      socket.once("close", gone);
    });
  }

  keepAlive(alive: boolean): void {
    if (alive) this.#socket.ref();
    else this.#socket.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#socket.destroy();
    this.#end();
  }
}

/** A bound Node server behind the pull-based {@link Listener}: connections queue until accepted. */
export class NodeListener implements Listener {
  readonly addr: Addr;
  #server: Net.Server;
  #pending: Net.Socket[] = [];
  #waiting: ((conn: Conn | null) => void) | undefined;
  #closed = false;

  /**
   * @param server a bound server
   * @param addr where it is bound
   * @param event the server's event for a new connection: a TLS server's is `secureConnection` (after its handshake)
   */
  constructor(server: Net.Server, addr: Addr, event: "connection" | "secureConnection" = "connection") {
    this.#server = server;
    this.addr = addr;
    server.on(event, (socket: Net.Socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      const waiting = this.#waiting;
      if (waiting) {
        this.#waiting = undefined;
        waiting(new NodeConn(socket, addr.path));
      } else {
        // Until accepted, only keep it from crashing the process with an unhandled "error".
        socket.on("error", () => {});
        this.#pending.push(socket);
      }
    });
    // Errors on a bound server (EMFILE on accept, …) must not crash the process.
    server.on("error", () => {});
  }

  accept(): Promise<Conn | null> {
    if (this.#closed) return Promise.resolve(null);
    const socket = this.#pending.shift();
    if (socket) return Promise.resolve(new NodeConn(socket, this.addr.path));
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    if (this.addr.path !== undefined) {
      try {
        node().fs.unlinkSync(this.addr.path);
      } catch {
        // already gone
      }
    }
    for (const socket of this.#pending.splice(0)) socket.destroy();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(null);
  }
}

/**
 * Binds a listening socket.
 *
 * @returns the listener, once bound
 * @throws {Error} saying the address is in use, when it is
 */
export function listen(addr: Addr): Promise<Listener> {
  return bind(node().net.createServer({ allowHalfOpen: true }), addr);
}

/**
 * Makes a server listen on `addr`.
 *
 * @param server a TCP or TLS server, not yet listening
 * @param addr where
 * @param event its event for a new connection
 * @returns the listener, once bound
 * @throws {Error} saying the address is in use, when it is
 */
export function bind(
  server: Net.Server,
  addr: Addr,
  event: "connection" | "secureConnection" = "connection",
): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeError) => {
      server.close();
      if (error.code === "EADDRINUSE") {
        reject(
          new Error(
            `${addr.hostname}:${addr.port} is already in use; stop the other server or pick another port (0 = any free port)`,
            { cause: error },
          ),
        );
      } else {
        reject(error);
      }
    };
    server.once("error", failed);
    server.listen({ host: addr.hostname, port: addr.port }, () => {
      server.off("error", failed);
      const bound = server.address() as Net.AddressInfo;
      resolve(new NodeListener(server, { hostname: bound.address, port: bound.port }, event));
    });
  });
}

/**
 * Opens a TCP connection with Nagle's algorithm off.
 *
 * @returns the connection, once established
 * @throws {Error} Node's error when it cannot connect
 */
export function connect(addr: Addr): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = node().net.connect({ host: addr.hostname, port: addr.port, allowHalfOpen: true });
    const failed = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", failed);
    socket.once("connect", () => {
      socket.off("error", failed);
      resolve(new NodeConn(socket));
    });
  });
}

const socketProbe: SocketPathProbe = {
  async kind(path) {
    try {
      return (await node().fs.promises.lstat(path)).isSocket() ? "socket" : "other";
    } catch (error) {
      if ((error as NodeError).code === "ENOENT") return "missing";
      throw error;
    }
  },
  connects(path) {
    return new Promise((resolve) => {
      const socket = node().net.connect({ path });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {
        socket.destroy();
        resolve(false);
      });
    });
  },
  remove: (path) => node().fs.promises.unlink(path),
};

/**
 * Binds a Unix domain socket at `path` with file mode `mode`; a stale socket file is replaced.
 *
 * @returns the listener, once bound
 * @throws {Error} when a live server holds `path`, or `path` is a file that is not a socket
 */
export async function listenUnix(path: string, mode: number): Promise<Listener> {
  await claimSocketPath(path, socketProbe);
  const server = node().net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeError) => {
      server.close();
      reject(error.code === "EADDRINUSE" ? socketInUse(path, error) : error);
    };
    server.once("error", failed);
    server.listen({ path }, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const listener = new NodeListener(server, { hostname: "", port: 0, path });
  try {
    await node().fs.promises.chmod(path, mode);
  } catch (error) {
    listener.close();
    throw error;
  }
  return listener;
}

/**
 * Opens a connection to the Unix domain socket at `path`.
 *
 * @returns the connection, once established
 * @throws {Error} Node's error when it cannot connect
 */
export function connectUnix(path: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = node().net.connect({ path, allowHalfOpen: true });
    const failed = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", failed);
    socket.once("connect", () => {
      socket.off("error", failed);
      resolve(new NodeConn(socket, path));
    });
  });
}
