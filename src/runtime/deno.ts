/**
 * The {@link Runtime} over `Deno.*`.
 *
 * @module
 */
import type { Addr, AppendFile, Conn, Listener, Runtime, TlsCertificate, TlsVerification } from "./interface.ts";
import { TlsError } from "../errors.ts";
import { aesGcm } from "./_node_crypto.ts";
import { openLineEditor } from "./_line_editor.ts";
import { print, readLines } from "./_deno_stdio.ts";
import { trimMemory } from "./_deno_trim.ts";
import { claimSocketPath, socketInUse, type SocketPathProbe } from "./_unix_socket.ts";

// A connection starts with a small read buffer (10,000 idle connections must stay cheap)
// and doubles it while reads fill it, for connections moving large values.
const FIRST_READ_BUFFER = 16 * 1024;
const LARGEST_READ_BUFFER = 1024 * 1024;

class DenoConn implements Conn {
  readonly remoteAddr: Addr;
  bytesRead = 0;
  bytesWritten = 0;
  #conn: Deno.Conn;
  #buffer = new Uint8Array(FIRST_READ_BUFFER);
  #closed = false;

  /**
   * @param conn a TCP, TLS or Unix connection
   * @param path the socket's path, for a Unix connection
   */
  constructor(conn: Deno.Conn, path?: string) {
    this.#conn = conn;
    if (path === undefined) {
      // A TLS connection accepted by Deno.listenTls has no setNoDelay (one made by connectTls had it set before TLS).
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const remote = conn.remoteAddr as Deno.NetAddr;
      this.remoteAddr = { hostname: remote.hostname, port: remote.port };
    } else {
      this.remoteAddr = { hostname: "", port: 0, path };
    }
  }

  // No async functions here: one promise per read and per write, the op's own continued with `then`.
  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    try {
      return this.#conn.read(this.#buffer).then(this.#onRead, this.#onReadError);
    } catch (error) {
      return Promise.reject(error).catch(this.#onReadError);
    }
  }

  readonly #onRead = (n: number | null): Uint8Array | null => {
    if (n === null) return null;
    this.bytesRead += n;
    const buffer = this.#buffer;
    if (n === buffer.length && buffer.length < LARGEST_READ_BUFFER) this.#buffer = new Uint8Array(2 * buffer.length);
    return buffer.subarray(0, n);
  };

  readonly #onReadError = (error: unknown): null => {
    if (this.#closed || isDisconnect(error)) return null;
    throw error;
  };

  write(data: Uint8Array): Promise<void> {
    this.bytesWritten += data.length;
    try {
      return this.#conn.write(data).then((n) => n < data.length ? this.#writeRest(data, n) : undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #writeRest(data: Uint8Array, at: number): Promise<void> {
    while (at < data.length) at += await this.#conn.write(data.subarray(at));
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  keepAlive(alive: boolean): void {
    if (alive) this.#conn.ref();
    else this.#conn.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
  }
}

function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.Interrupted;
}

class DenoListener implements Listener {
  readonly addr: Addr;
  #listener: Deno.Listener;
  #closed = false;

  /**
   * @param listener a TCP or Unix listener
   * @param path the socket file, for a Unix listener (removed on close)
   */
  constructor(listener: Deno.Listener, path?: string) {
    this.#listener = listener;
    const tcp = listener.addr as Deno.NetAddr;
    this.addr = path === undefined ? { hostname: tcp.hostname, port: tcp.port } : { hostname: "", port: 0, path };
  }

  async accept(): Promise<Conn | null> {
    while (!this.#closed) {
      try {
        return new DenoConn(await this.#listener.accept(), this.addr.path);
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) {
          return null;
        }
        // A connection reset between SYN and accept: not the listener's problem.
        if (
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.ConnectionAborted
        ) continue;
        throw error;
      }
    }
    return null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    if (this.addr.path !== undefined) {
      try {
        Deno.removeSync(this.addr.path);
      } catch {
        // already gone
      }
    }
  }
}

const socketProbe: SocketPathProbe = {
  async kind(path) {
    try {
      return (await Deno.lstat(path)).isSocket ? "socket" : "other";
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "missing";
      throw error;
    }
  },
  async connects(path) {
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      return true;
    } catch {
      return false;
    }
  },
  remove: (path) => Deno.remove(path),
};

async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    const file = await Deno.open(temp, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    try {
      let at = 0;
      while (at < data.length) at += await file.write(data.subarray(at));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(path);
}

class DenoAppendFile implements AppendFile {
  #file: Deno.FsFile;
  #closed = false;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  async write(data: Uint8Array): Promise<void> {
    let at = 0;
    while (at < data.length) at += await this.#file.write(at === 0 ? data : data.subarray(at));
  }

  writeSync(data: Uint8Array): void {
    let at = 0;
    while (at < data.length) at += this.#file.writeSync(at === 0 ? data : data.subarray(at));
  }

  sync(): Promise<void> {
    return this.#file.syncData();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Not every platform can fsync a directory; the rename itself is still atomic.
  }
}

/** Binds a TCP or TLS listener, saying so when the address is taken or the certificate cannot be used. */
// deno-lint-ignore require-await -- async so that a throw of Deno.listen becomes a rejection
async function listenTcp(addr: Addr, certificate?: TlsCertificate): Promise<Listener> {
  const options = { hostname: addr.hostname, port: addr.port, transport: "tcp" } as const;
  try {
    return new DenoListener(
      certificate === undefined ? Deno.listen(options) : Deno.listenTls({ ...options, ...certificate }),
    );
  } catch (error) {
    const why = error instanceof Deno.errors.AddrInUse
      ? `${addr.hostname}:${addr.port} is already in use; stop the other server or pick another port (0 = any free port)`
      : certificate !== undefined
      ? `cannot use the TLS certificate and key: ${(error as Error).message}`
      : undefined;
    throw why === undefined ? error : new Error(why, { cause: error });
  }
}

async function connectTls(addr: Addr, verification: TlsVerification): Promise<Conn> {
  const tcp = await Deno.connect({ hostname: addr.hostname, port: addr.port, transport: "tcp" });
  tcp.setNoDelay(true);
  let tls: Deno.TlsConn | undefined;
  try {
    tls = await Deno.startTls(tcp, { hostname: addr.hostname, caCerts: verification.caCerts });
    await tls.handshake();
    return new DenoConn(tls);
  } catch (error) {
    try {
      (tls ?? tcp).close();
    } catch {
      // already closed
    }
    throw new TlsError(`TLS handshake failed: ${(error as Error).message}`, { cause: error });
  }
}

/** The Deno implementation of the runtime interface. */
export const denoRuntime: Runtime = {
  name: "deno",
  listen: (addr) => listenTcp(addr),
  listenTls: (addr, certificate) => listenTcp(addr, certificate),
  connectTls,
  async connect(addr) {
    return new DenoConn(
      await Deno.connect({
        hostname: addr.hostname,
        port: addr.port,
        transport: "tcp",
      }),
    );
  },
  async listenUnix(path, mode) {
    await claimSocketPath(path, socketProbe);
    let listener: Deno.UnixListener;
    try {
      listener = Deno.listen({ transport: "unix", path });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) throw socketInUse(path, error);
      throw error;
    }
    try {
      await Deno.chmod(path, mode);
    } catch (error) {
      listener.close();
      await Deno.remove(path).catch(() => {});
      throw error;
    }
    return new DenoListener(listener, path);
  },
  async connectUnix(path) {
    return new DenoConn(await Deno.connect({ transport: "unix", path }), path);
  },
  aesGcm,
  readFile: (path) => Deno.readFile(path),
  async exists(path) {
    try {
      await Deno.stat(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  },
  writeFileAtomic,
  async openAppend(path) {
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    await syncDirectory(path);
    return new DenoAppendFile(file);
  },
  async rename(from, to) {
    await Deno.rename(from, to);
    await syncDirectory(to);
  },
  async remove(path) {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  },
  async truncate(path, length) {
    const file = await Deno.open(path, { write: true });
    try {
      await file.truncate(length);
      await file.sync();
    } finally {
      file.close();
    }
  },
  copyFile: (from, to) => Deno.copyFile(from, to),
  onShutdownSignal(handler) {
    const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
      const listener = () => handler(signal);
      Deno.addSignalListener(signal, listener);
      return [signal, listener] as const;
    });
    return () => listeners.forEach(([signal, listener]) => Deno.removeSignalListener(signal, listener));
  },
  onHangupSignal(handler) {
    const listener = () => handler();
    Deno.addSignalListener("SIGHUP", listener);
    return () => Deno.removeSignalListener("SIGHUP", listener);
  },
  env(name) {
    try {
      // Never prompt for it: a variable we may not read is one that is not set.
      if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  },
  memoryUsage: () => Deno.memoryUsage().rss,
  trimMemory,
  unrefTimer(id) {
    // Deno 2.9 returns Node-style Timeout objects; older versions return numbers.
    if (typeof id === "number") Deno.unrefTimer(id);
    else (id as { unref?: () => void }).unref?.();
  },
  readLines,
  print,
  stdinIsTerminal: () => Deno.stdin.isTerminal(),
  lineEditor: openLineEditor,
  args: () => [...Deno.args],
  exit: (code) => Deno.exit(code),
  isMain: (moduleUrl) => Deno.mainModule === moduleUrl,
};
