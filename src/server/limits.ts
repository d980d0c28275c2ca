/**
 * What one connection may make the server hold, with their defaults, as
 * Redis has `client-output-buffer-limit` and sshd `MaxStartups`: replies
 * queued for a client that does not read them, and connections that have not
 * yet authenticated, and the resident memory past which writes are refused.
 * Checked once at start.
 *
 * @module
 */
import { runtime } from "../runtime/mod.ts";

/** Unsent reply bytes past which a connection's requests are not read until the client has taken them: 8 MiB. */
export const DEFAULT_OUTPUT_BUFFER_SOFT = 8 * 1024 * 1024;
/** Unsent reply bytes past which a connection is closed: 256 MiB. */
export const DEFAULT_OUTPUT_BUFFER_HARD = 256 * 1024 * 1024;
/** Milliseconds a client past the soft limit has to take its replies before it is closed: 30 s. */
export const DEFAULT_WRITE_TIMEOUT = 30_000;
/** Connections still in the handshake at once; the oldest is dropped for a new one: 128. */
export const DEFAULT_MAX_UNAUTHENTICATED = 128;

/** The limits of {@link sessionLimits}, as `start()` takes them. */
export interface SessionLimitOptions {
  /** Unsent reply bytes past which reading stops until the client catches up. Default 8 MiB. */
  outputBufferSoft?: number;
  /** Unsent reply bytes past which the connection is closed (logged). Default 256 MiB. */
  outputBufferHard?: number;
  /** Milliseconds a client past the soft limit has to take its replies before it is closed (logged). Default 30000. */
  writeTimeout?: number;
  /**
   * Connections still authenticating at once (they do not count against `maxConnections`); a new
   * one past this drops the oldest, so idle unauthenticated sockets cannot keep real clients out. Default 128.
   */
  maxUnauthenticated?: number;
}

/** Every limit, checked. */
export type SessionLimits = Required<SessionLimitOptions>;

/**
 * Fills in the defaults and checks the limits.
 *
 * @param options the limits given to `start()`
 * @returns every limit
 * @throws {RangeError} for a limit that is not a positive whole number, or a soft limit over the hard one
 * @example
 * ```ts
 * import { sessionLimits } from "./limits.ts";
 * console.assert(sessionLimits({}).writeTimeout === 30_000);
 * ```
 */
export function sessionLimits(options: SessionLimitOptions): SessionLimits {
  const limits: SessionLimits = {
    outputBufferSoft: options.outputBufferSoft ?? DEFAULT_OUTPUT_BUFFER_SOFT,
    outputBufferHard: options.outputBufferHard ?? DEFAULT_OUTPUT_BUFFER_HARD,
    writeTimeout: options.writeTimeout ?? DEFAULT_WRITE_TIMEOUT,
    maxUnauthenticated: options.maxUnauthenticated ?? DEFAULT_MAX_UNAUTHENTICATED,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number ≥ 1`);
  }
  if (limits.outputBufferSoft > limits.outputBufferHard) {
    throw new RangeError("outputBufferSoft must not be over outputBufferHard");
  }
  return limits;
}

/**
 * Tells whether the process's resident memory is past `max` bytes, sampled at most every 50 ms (so a request costs
 * no syscall): the reason a write is refused with `OUT_OF_MEMORY`, or `undefined` while under it.
 *
 * @param max the `--max-memory` bound in bytes
 * @returns a function giving the refusal's message, or `undefined`
 * @example
 * ```ts
 * import { memoryGauge } from "./limits.ts";
 * console.log(memoryGauge(Number.MAX_SAFE_INTEGER)()); // undefined
 * ```
 */
export function memoryGauge(max: number): () => string | undefined {
  let sampledAt = -Infinity, rss = 0;
  return () => {
    const now = performance.now();
    if (now - sampledAt > 50) [sampledAt, rss] = [now, runtime.memoryUsage()];
    if (rss <= max) return undefined;
    return `the server holds ${rss} bytes, over its --max-memory of ${max}: writes are refused until tables ` +
      `are deleted or emptied (reads, deletes and clears still work), or the server is restarted with more`;
  };
}
