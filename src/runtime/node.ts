/**
 * The {@link Runtime} over Node's `node:net` and `node:fs`. The modules are
 * fetched with `process.getBuiltinModule` on first use, so merely importing
 * this file (as Deno does, to pick a runtime) loads nothing from Node.
 *
 * @module
 */
import type * as Fs from "node:fs";
import type * as Net from "node:net";
import type * as Url from "node:url";
import type { Addr, AppendFile, Conn, Listener, Runtime, TimerId } from "./mod.ts";

/** The parts of Node's `process` used here. */
interface NodeProcess {
  getBuiltinModule(id: "node:fs"): typeof Fs;
  getBuiltinModule(id: "node:net"): typeof Net;
  getBuiltinModule(id: "node:url"): typeof Url;
  readonly argv: string[];
  readonly env: Record<string, string | undefined>;
  exit(code?: number): never;
  memoryUsage(): { rss: number };
  on(event: string, listener: (signal: string) => void): unknown;
  off(event: string, listener: (signal: string) => void): unknown;
  readonly stdin: AsyncIterable<Uint8Array> & { readonly isTTY?: boolean };
  readonly stdout: { write(text: string, done: (error?: Error | null) => void): boolean };
}

/** An error as Node reports it, with its `code` (`ECONNRESET`, `ENOENT`, …). */
type NodeError = Error & { code?: string };

function nodeProcess(): NodeProcess {
  return (globalThis as unknown as { process: NodeProcess }).process;
}

let modules: { fs: typeof Fs; net: typeof Net; url: typeof Url } | undefined;

function node(): { fs: typeof Fs; net: typeof Net; url: typeof Url } {
  const process = nodeProcess();
  return modules ??= {
    fs: process.getBuiltinModule("node:fs"),
    net: process.getBuiltinModule("node:net"),
    url: process.getBuiltinModule("node:url"),
  };
}

/** Bytes queued unread before the socket is paused; it resumes once the reader has taken them. */
const HIGH_WATER = 1024 * 1024;
/** Most bytes handed out by one `read()` when several chunks are queued. */
const READ_CHUNK = 256 * 1024;

function isDisconnect(error: NodeError): boolean {
  return error.code === "ECONNRESET" || error.code === "EPIPE" || error.code === "ECONNABORTED" ||
    error.code === "ERR_STREAM_DESTROYED";
}

/** A plain `Uint8Array` over the same memory: the codec must never see a `Buffer`. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A Node socket behind the pull-based {@link Conn}: pushed chunks are queued
 * and the socket is paused while more than {@link HIGH_WATER} bytes wait.
 */
class NodeConn implements Conn {
  readonly remoteAddr: Addr;
  #socket: Net.Socket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #closed = false;
  #error: Error | undefined;
  #waiting: { resolve(chunk: Uint8Array | null): void; reject(error: Error): void } | undefined;

  constructor(socket: Net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    this.remoteAddr = { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    socket.on("data", (chunk: Uint8Array) => this.#push(plain(chunk)));
    socket.on("end", () => this.#end());
    socket.on("close", () => this.#end());
    socket.on("error", (error: NodeError) => {
      if (!isDisconnect(error)) this.#error ??= error;
      this.#end();
    });
  }

  #push(chunk: Uint8Array): void {
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
    if (this.#closed || this.#socket.destroyed) {
      return Promise.reject(new Error("the connection is closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(data, (error) => error ? reject(error) : resolve());
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

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#socket.destroy();
    this.#end();
  }
}

class NodeListener implements Listener {
  readonly addr: Addr;
  #server: Net.Server;
  #pending: Net.Socket[] = [];
  #waiting: ((conn: Conn | null) => void) | undefined;
  #closed = false;

  constructor(server: Net.Server, addr: Addr) {
    this.#server = server;
    this.addr = addr;
    server.on("connection", (socket: Net.Socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      const waiting = this.#waiting;
      if (waiting) {
        this.#waiting = undefined;
        waiting(new NodeConn(socket));
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
    if (socket) return Promise.resolve(new NodeConn(socket));
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#pending.splice(0)) socket.destroy();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(null);
  }
}

function listen(addr: Addr): Promise<Listener> {
  const server = node().net.createServer({ allowHalfOpen: true });
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
      resolve(new NodeListener(server, { hostname: bound.address, port: bound.port }));
    });
  });
}

function connect(addr: Addr): Promise<Conn> {
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

/** Calls a Node callback-style function as a promise. */
function call<T>(run: (done: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => error ? reject(error) : resolve(value as T)));
}

async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  const { fs } = node();
  let at = 0;
  while (at < data.length) {
    at += await call<number>((done) => fs.write(fd, data, at, data.length - at, null, done));
  }
}

function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

async function syncDirectory(path: string): Promise<void> {
  const { fs } = node();
  try {
    const fd = await call<number>((done) => fs.open(directoryOf(path), "r", done));
    try {
      await call<void>((done) => fs.fsync(fd, done));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a directory; the rename itself is still atomic.
  }
}

async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const { fs } = node();
  const temp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    const fd = await call<number>((done) => fs.open(temp, "w", 0o600, done));
    try {
      await writeAll(fd, data);
      await call<void>((done) => fs.fsync(fd, done));
    } finally {
      fs.closeSync(fd);
    }
    await fs.promises.rename(temp, path);
  } catch (error) {
    await fs.promises.unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(path);
}

class NodeAppendFile implements AppendFile {
  #fd: number;
  #closed = false;

  constructor(fd: number) {
    this.#fd = fd;
  }

  write(data: Uint8Array): Promise<void> {
    return writeAll(this.#fd, data);
  }

  writeSync(data: Uint8Array): void {
    const { fs } = node();
    let at = 0;
    while (at < data.length) at += fs.writeSync(this.#fd, data, at, data.length - at);
  }

  sync(): Promise<void> {
    const { fs } = node();
    return call<void>((done) => fs.fdatasync(this.#fd, done));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    node().fs.closeSync(this.#fd);
  }
}

async function* readLines(): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of nodeProcess().stdin) {
    pending += decoder.decode(chunk, { stream: true });
    for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
      yield pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending;
}

function print(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    nodeProcess().stdout.write(text, (error) => error ? reject(error) : resolve());
  });
}

/** The Node implementation of the runtime interface. */
export const nodeRuntime: Runtime = {
  name: "node",
  listen,
  connect,
  async readFile(path) {
    return plain(await node().fs.promises.readFile(path));
  },
  async exists(path) {
    try {
      await node().fs.promises.stat(path);
      return true;
    } catch (error) {
      if ((error as NodeError).code === "ENOENT") return false;
      throw error;
    }
  },
  writeFileAtomic,
  async openAppend(path) {
    const { fs } = node();
    const fd = await call<number>((done) => fs.open(path, "a", 0o600, done));
    await syncDirectory(path);
    return new NodeAppendFile(fd);
  },
  async rename(from, to) {
    await node().fs.promises.rename(from, to);
    await syncDirectory(to);
  },
  async remove(path) {
    try {
      await node().fs.promises.unlink(path);
    } catch (error) {
      if ((error as NodeError).code !== "ENOENT") throw error;
    }
  },
  async truncate(path, length) {
    const file = await node().fs.promises.open(path, "r+");
    try {
      await file.truncate(length);
      await file.sync();
    } finally {
      await file.close();
    }
  },
  copyFile: (from, to) => node().fs.promises.copyFile(from, to),
  onShutdownSignal(handler) {
    const process = nodeProcess();
    const listener = (signal: string) => handler(signal);
    process.on("SIGINT", listener);
    process.on("SIGTERM", listener);
    return () => {
      process.off("SIGINT", listener);
      process.off("SIGTERM", listener);
    };
  },
  env: (name) => nodeProcess().env[name],
  memoryUsage: () => nodeProcess().memoryUsage().rss,
  unrefTimer(id: TimerId) {
    (id as { unref?: () => void }).unref?.();
  },
  readLines,
  print,
  stdinIsTerminal: () => nodeProcess().stdin.isTTY === true,
  args: () => nodeProcess().argv.slice(2),
  exit: (code) => nodeProcess().exit(code),
  isMain(moduleUrl) {
    const script = nodeProcess().argv[1];
    if (script === undefined) return false;
    const { fs, url } = node();
    try {
      return url.pathToFileURL(fs.realpathSync(script)).href === moduleUrl;
    } catch {
      return false;
    }
  },
};
