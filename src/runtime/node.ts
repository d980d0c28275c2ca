/**
 * The {@link Runtime} over Node's `node:net`, `node:tls` and `node:fs`. The modules are
 * fetched with `process.getBuiltinModule` on first use, so merely importing
 * this file (as Deno does, to pick a runtime) loads nothing from Node.
 *
 * @module
 */
import type { AppendFile, Runtime, TimerId } from "./interface.ts";
import { aesGcm } from "./_node_crypto.ts";
import { openLineEditor } from "./_line_editor.ts";
import { node, type NodeError, nodeProcess, plain } from "./_node_builtins.ts";
import { connect, connectUnix, listen, listenUnix } from "./_node_net.ts";
import { connectTls, listenTls } from "./_node_tls.ts";

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
  listenTls,
  connectTls,
  listenUnix,
  connectUnix,
  aesGcm,
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
  onHangupSignal(handler) {
    const process = nodeProcess();
    const listener = () => handler();
    process.on("SIGHUP", listener);
    return () => process.off("SIGHUP", listener);
  },
  env: (name) => nodeProcess().env[name],
  memoryUsage: () => nodeProcess().memoryUsage().rss,
  // Node has no FFI to reach malloc_trim: freed memory stays with the allocator until it reuses it.
  trimMemory() {},
  unrefTimer(id: TimerId) {
    (id as { unref?: () => void }).unref?.();
  },
  readLines,
  print,
  stdinIsTerminal: () => nodeProcess().stdin.isTTY === true,
  lineEditor: openLineEditor,
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
