/**
 * Error classes shared by the server and the client. Every error carries a
 * stable string `code`; the server sends the code and message, and the client
 * rebuilds the same class from them with {@link errorFromCode}.
 *
 * @module
 */

/** Every error code cyberdb produces. */
export type ErrorCode =
  | "KEY_NOT_FOUND"
  | "INDEX_OUT_OF_RANGE"
  | "VALUE_NOT_FOUND"
  | "WRONG_TYPE"
  | "NO_SUCH_TABLE"
  | "TABLE_EXISTS"
  | "BAD_REQUEST"
  | "FRAME_TOO_LARGE"
  | "AUTH_FAILED"
  | "ENCRYPTION_REQUIRED"
  | "ENCRYPTION_UNAVAILABLE"
  | "FORBIDDEN"
  | "TOO_MANY_CONNECTIONS"
  | "CONNECTION_CLOSED"
  | "PROXY_CLOSED"
  | "TIMEOUT"
  | "SNAPSHOT_CORRUPT"
  | "JOURNAL_CORRUPT"
  | "UNSUPPORTED"
  | "SLOW_CONSUMER"
  | "OUT_OF_MEMORY"
  | "TLS_FAILED";

/**
 * The base class of every error cyberdb throws.
 *
 * @example
 * ```ts
 * import { CyberDBError, KeyNotFoundError } from "./errors.ts";
 * const error = new KeyNotFoundError("no key 'a'");
 * console.log(error instanceof CyberDBError, error.code); // true KEY_NOT_FOUND
 * ```
 */
export class CyberDBError extends Error {
  /** The stable code of this error, e.g. `"KEY_NOT_FOUND"`. */
  readonly code: ErrorCode;

  /**
   * Creates the error.
   *
   * @param code the stable error code
   * @param message what went wrong and what to do about it
   * @param options the standard `ErrorOptions` (a `cause`)
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A dict key that does not exist (`pop` without default, `popItem` on empty). */
export class KeyNotFoundError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what was missing
   */
  constructor(message: string) {
    super("KEY_NOT_FOUND", message);
  }
}

/** A list index outside the list (`pop(i)`, `set(i)`). */
export class IndexOutOfRangeError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message which index and the list length
   */
  constructor(message: string) {
    super("INDEX_OUT_OF_RANGE", message);
  }
}

/** A value that is not in the list (`remove(v)`). */
export class ValueNotFoundError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what was missing
   */
  constructor(message: string) {
    super("VALUE_NOT_FOUND", message);
  }
}

/** An operation on the wrong kind of table or value (incrementing a string, sorting mixed types). */
export class WrongTypeError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what type was found and what was expected
   */
  constructor(message: string) {
    super("WRONG_TYPE", message);
  }
}

/** A table name that does not exist on the server. */
export class NoSuchTableError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message which table
   */
  constructor(message: string) {
    super("NO_SUCH_TABLE", message);
  }
}

/** Creating a table whose name is already taken. */
export class TableExistsError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message which table
   */
  constructor(message: string) {
    super("TABLE_EXISTS", message);
  }
}

/** A request the server cannot understand: unknown op, bad arguments, undecodable bytes. */
export class BadRequestError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what was wrong with the request
   */
  constructor(message: string) {
    super("BAD_REQUEST", message);
  }
}

/** A frame larger than the configured maximum frame size. */
export class FrameTooLargeError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message the size and the limit
   */
  constructor(message: string) {
    super("FRAME_TOO_LARGE", message);
  }
}

/** A wrong or missing password, or a server that could not prove it knows the password. */
export class AuthenticationError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what to change
   */
  constructor(message: string) {
    super("AUTH_FAILED", message);
  }
}

/** A plain client talking to a server that requires encryption. */
export class EncryptionRequiredError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what to change
   */
  constructor(message: string) {
    super("ENCRYPTION_REQUIRED", message);
  }
}

/** An encrypting client talking to a server that does not offer encryption. */
export class EncryptionUnavailableError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what to change
   */
  constructor(message: string) {
    super("ENCRYPTION_UNAVAILABLE", message);
  }
}

/** A peer address that is not on the server's IP whitelist. */
export class ForbiddenError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message which address
   */
  constructor(message: string) {
    super("FORBIDDEN", message);
  }
}

/** A connection over the server's `maxConnections` cap. */
export class TooManyConnectionsError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message the cap
   */
  constructor(message: string) {
    super("TOO_MANY_CONNECTIONS", message);
  }
}

/** The connection dropped before the reply arrived; the request may or may not have been applied. */
export class ConnectionClosedError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message why the connection closed
   * @param options the standard `ErrorOptions` (a `cause`)
   */
  constructor(message: string, options?: ErrorOptions) {
    super("CONNECTION_CLOSED", message, options);
  }
}

/** A request on a proxy that was closed (or never connected). */
export class ProxyClosedError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what to do instead
   */
  constructor(message: string) {
    super("PROXY_CLOSED", message);
  }
}

/** A request or handshake that took longer than its timeout. */
export class TimeoutError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what timed out, and after how long
   */
  constructor(message: string) {
    super("TIMEOUT", message);
  }
}

/** A snapshot file that is missing, truncated or corrupt. */
export class SnapshotCorruptError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message which file and what is wrong with it
   * @param options the standard `ErrorOptions` (a `cause`)
   */
  constructor(message: string, options?: ErrorOptions) {
    super("SNAPSHOT_CORRUPT", message, options);
  }
}

/** A journal file with a bad record before its end. */
export class JournalCorruptError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message which file, where, and how to repair it
   */
  constructor(message: string) {
    super("JOURNAL_CORRUPT", message);
  }
}

/** An op or option the engine in use cannot do; the message names the engine and what to use instead. */
export class UnsupportedError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what is not supported, by which engine, and what to do instead
   */
  constructor(message: string) {
    super("UNSUPPORTED", message);
  }
}

/** A watcher that read its changes too slowly, ended before its queue outgrew its bound. */
export class SlowConsumerError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message the bound, and how to resume (read the table again, then watch)
   */
  constructor(message: string) {
    super("SLOW_CONSUMER", message);
  }
}

/**
 * A write refused because the server holds more memory than its `--max-memory`
 * allows (Redis's `OOM` under `maxmemory`); reads and deletes still work.
 */
export class OutOfMemoryError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message how much is held, the limit, and what to do (delete data or raise the limit)
   */
  constructor(message: string) {
    super("OUT_OF_MEMORY", message);
  }
}

/**
 * A TLS connection whose handshake failed: the server's certificate is not trusted (signed by a CA the
 * client was not given, expired, or for another name), or the server does not speak TLS.
 */
export class TlsError extends CyberDBError {
  /**
   * Creates the error.
   *
   * @param message what failed, and what to do (pass the CA with `tls: { caCerts }`, check the name)
   * @param options the runtime's error as `cause`
   */
  constructor(message: string, options?: ErrorOptions) {
    super("TLS_FAILED", message, options);
  }
}

const classes: Record<ErrorCode, new (message: string) => CyberDBError> = {
  KEY_NOT_FOUND: KeyNotFoundError,
  INDEX_OUT_OF_RANGE: IndexOutOfRangeError,
  VALUE_NOT_FOUND: ValueNotFoundError,
  WRONG_TYPE: WrongTypeError,
  NO_SUCH_TABLE: NoSuchTableError,
  TABLE_EXISTS: TableExistsError,
  BAD_REQUEST: BadRequestError,
  FRAME_TOO_LARGE: FrameTooLargeError,
  AUTH_FAILED: AuthenticationError,
  ENCRYPTION_REQUIRED: EncryptionRequiredError,
  ENCRYPTION_UNAVAILABLE: EncryptionUnavailableError,
  FORBIDDEN: ForbiddenError,
  TOO_MANY_CONNECTIONS: TooManyConnectionsError,
  CONNECTION_CLOSED: ConnectionClosedError,
  PROXY_CLOSED: ProxyClosedError,
  TIMEOUT: TimeoutError,
  SNAPSHOT_CORRUPT: SnapshotCorruptError,
  JOURNAL_CORRUPT: JournalCorruptError,
  UNSUPPORTED: UnsupportedError,
  SLOW_CONSUMER: SlowConsumerError,
  OUT_OF_MEMORY: OutOfMemoryError,
  TLS_FAILED: TlsError,
};

/**
 * Rebuilds the error class for a code received from the server. An unknown
 * code (a newer server) becomes a plain {@link CyberDBError} with code
 * `BAD_REQUEST`.
 *
 * @param code the code from the wire
 * @param message the message from the wire
 * @returns an error of the matching class
 * @example
 * ```ts
 * import { errorFromCode } from "./errors.ts";
 * console.log(errorFromCode("TABLE_EXISTS", "taken").name); // TableExistsError
 * ```
 */
export function errorFromCode(code: string, message: string): CyberDBError {
  const ErrorClass = Object.hasOwn(classes, code) ? classes[code as ErrorCode] : undefined;
  return ErrorClass ? new ErrorClass(message) : new CyberDBError("BAD_REQUEST", `${code}: ${message}`);
}
