/**
 * What cyberdb needs from the runtime it runs on, as types only: sockets,
 * files, signals, the environment, AES-GCM. `deno.ts` and `node.ts`
 * implement {@link Runtime} and take these types from here, never from
 * `mod.ts`, which picks one of them and re-exports these types.
 *
 * @module
 */

/** A network address. */
export interface Addr {
  /** Host name or IP address; `""` for a Unix domain socket. */
  hostname: string;
  /** TCP port; 0 for a Unix domain socket. */
  port: number;
  /** The Unix domain socket's path, for a connection or listener over one. */
  path?: string;
}

/** One connection, over TCP or a Unix domain socket. */
export interface Conn {
  /** The peer's address. */
  readonly remoteAddr: Addr;
  /** Bytes received on it so far, as on the wire (for the metrics: a field bumped per read, no promise added). */
  readonly bytesRead: number;
  /** Bytes given to {@link Conn.write} so far. */
  readonly bytesWritten: number;
  /**
   * Reads the next chunk of bytes.
   *
   * @returns a view that is valid only until the next `read()`, or `null` at end of stream
   */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `data`; rejects if the connection is gone. */
  write(data: Uint8Array): Promise<void>;
  /** Ends the sending side only (the peer reads end of stream and can still answer); rejects if the connection is gone. */
  closeWrite(): Promise<void>;
  /** Closes the connection; safe to call more than once. */
  close(): void;
  /**
   * Whether this open connection keeps the process alive (it does from the
   * start). A client connection with no request in flight and no watch open
   * does not: a script that forgot `client.close()` ends, and a worker of
   * `deno serve --parallel` exits on Ctrl-C.
   */
  keepAlive(alive: boolean): void;
}

/** A listening socket, TCP or Unix. */
export interface Listener {
  /** The address actually bound (the real port when 0 was asked for). */
  readonly addr: Addr;
  /** The next connection, or `null` once the listener is closed. */
  accept(): Promise<Conn | null>;
  /** Stops listening; safe to call more than once. */
  close(): void;
}

/** A certificate (chain) and its private key, PEM, that a TLS listener presents. */
export interface TlsCertificate {
  /** The certificate chain, PEM: the server's certificate first. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/** How a TLS client checks the server's certificate. */
export interface TlsVerification {
  /** CA certificates (PEM) trusted beside the system's roots, e.g. a private CA that signed the server's. */
  caCerts?: string[];
}

/** A file opened for appending, as the journal uses it. */
export interface AppendFile {
  /** Appends all of `data`. */
  write(data: Uint8Array): Promise<void>;
  /** Appends all of `data` synchronously (one `write` to the page cache, no fsync). */
  writeSync(data: Uint8Array): void;
  /** Flushes written data to stable storage (fdatasync). */
  sync(): Promise<void>;
  /** Closes the file; safe to call more than once. */
  close(): void;
}

/**
 * AES-256-GCM done synchronously by the runtime (`node:crypto`'s cipher):
 * one record per call, no thread hop, byte for byte what Web Crypto's
 * AES-GCM with a 128-bit tag gives for the same key, nonce and plaintext.
 */
export interface AesGcm {
  /**
   * Encrypts and authenticates `plaintext`.
   *
   * @param key 32 bytes
   * @param iv the 12-byte nonce
   * @returns the ciphertext followed by the 16-byte tag
   */
  seal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array<ArrayBuffer>;
  /**
   * Decrypts and checks a record sealed by {@link AesGcm.seal} (or Web Crypto).
   *
   * @returns the plaintext, or `null` when the record fails to authenticate
   */
  open(key: Uint8Array, iv: Uint8Array, record: Uint8Array): Uint8Array<ArrayBuffer> | null;
}

/** A timer handle as `setTimeout` returns it. */
export type TimerId = ReturnType<typeof setTimeout>;

/** Everything cyberdb needs from the runtime it runs on. */
export interface Runtime {
  /** Which runtime this is. */
  readonly name: "deno" | "node";
  /**
   * Binds a listening socket; resolves once it is bound.
   *
   * @throws {Error} with a message saying the address is in use, when it is
   */
  listen(addr: Addr): Promise<Listener>;
  /** Opens a TCP connection with Nagle's algorithm off. */
  connect(addr: Addr): Promise<Conn>;
  /**
   * Binds a TLS listener (TLS 1.2 and 1.3) presenting `certificate`; connections are TLS from the
   * first byte, and their handshake runs on the first read or write.
   *
   * @throws {Error} when the port is in use, or the certificate or key cannot be used
   */
  listenTls(addr: Addr, certificate: TlsCertificate): Promise<Listener>;
  /**
   * Opens a TCP connection and completes a TLS handshake over it, checking the server's
   * certificate against the system's roots and `verification.caCerts`, for `addr.hostname`.
   *
   * @throws {TlsError} when the handshake fails (certificate not trusted, wrong name, no TLS there)
   * @throws {Error} when the TCP connection cannot be made
   */
  connectTls(addr: Addr, verification: TlsVerification): Promise<Conn>;
  /**
   * Binds a Unix domain socket at `path` and sets its file mode; resolves once bound. A socket file
   * left by a server that crashed is replaced; closing the listener removes the file.
   *
   * @param path where the socket file goes
   * @param mode its permissions (`0o700`: only this user)
   * @throws {Error} when a live server holds `path`, or `path` is a file that is not a socket
   */
  listenUnix(path: string, mode: number): Promise<Listener>;
  /** Opens a connection to the Unix domain socket at `path`. */
  connectUnix(path: string): Promise<Conn>;
  /** The runtime's synchronous AES-256-GCM, or `undefined` where it has none (then Web Crypto is used). */
  aesGcm(): AesGcm | undefined;
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Whether a file exists. */
  exists(path: string): Promise<boolean>;
  /**
   * Replaces a file atomically and durably: writes a temporary file beside
   * it, fsyncs it, renames it over `path`, and fsyncs the directory.
   */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
  /** Opens a file for appending, creating it if missing. */
  openAppend(path: string): Promise<AppendFile>;
  /** Renames a file, replacing `to`; then fsyncs the directory. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Cuts a file to `length` bytes and fsyncs it. */
  truncate(path: string, length: number): Promise<void>;
  /** Copies a file. */
  copyFile(from: string, to: string): Promise<void>;
  /** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening. */
  onShutdownSignal(handler: (signal: string) => void): () => void;
  /** Calls `handler` on SIGHUP (which then no longer ends the process); returns a function that stops listening. */
  onHangupSignal(handler: () => void): () => void;
  /** An environment variable, or `undefined` (also when reading the environment is not allowed). */
  env(name: string): string | undefined;
  /** Resident set size of this process, in bytes. */
  memoryUsage(): number;
  /** Lets the process exit even while this timer is pending. */
  unrefTimer(id: TimerId): void;
  /**
   * Asks the C allocator to give freed memory back to the system, off the event loop, where the runtime
   * can: Deno on Linux (glibc) with the FFI permission; elsewhere it does nothing.
   */
  trimMemory(): void;
  /** The lines of standard input, without their line endings, until it closes. */
  readLines(): AsyncIterable<string>;
  /** Writes `text` to standard output as it is (no newline added); resolves once written. */
  print(text: string): Promise<void>;
  /** Whether standard input is a terminal (a person typing) rather than a pipe or a file. */
  stdinIsTerminal(): boolean;
  /** Opens a prompt with line editing, history and completion on the terminal (standard input must be one). */
  lineEditor(options: LineEditorOptions): LineEditor;
  /** The command-line arguments after the script. */
  args(): string[];
  /** Ends the process with this exit code. */
  exit(code: number): never;
  /** Whether the module at `moduleUrl` (its `import.meta.url`) is the script the process was started with. */
  isMain(moduleUrl: string): boolean;
}

/** What a prompt with line editing starts from. */
export interface LineEditorOptions {
  /** The prompt shown before each line. */
  prompt: string;
  /** Earlier lines, oldest first, for Up and Down. */
  history: readonly string[];
  /** Lines kept in the history. */
  historySize: number;
  /** Completions for the line typed so far (Tab): the candidates, and the part of the line they replace. */
  complete(line: string): Promise<[string[], string]>;
}

/** A prompt with line editing. */
export interface LineEditor {
  /** Shows the prompt and resolves to the next line, or `null` once the input ends (Ctrl-D). */
  read(): Promise<string | null>;
  /** Closes the prompt (the terminal goes back to how it was). */
  close(): void;
}
