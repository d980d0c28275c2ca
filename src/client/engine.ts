/**
 * The engine seam: where a client's requests go. `Proxy` and the table
 * handles know only these two interfaces; each engine in `src/engines/`
 * (remote, memory, redis) implements them. The client side owns the
 * interface, so engines import it and the client never imports an engine.
 *
 * @module
 */
import type { WatchSink, WatchTarget } from "./watch.ts";

/** The engines cyberdb has. */
export type EngineName = "memory" | "remote" | "redis";

/**
 * One ordered channel of requests: a pooled connection to a server, or its
 * in-process counterpart. Requests on one connection are applied in the
 * order they were made, even when many are in flight.
 */
export interface EngineConnection {
  /** Sends one op on one table and resolves to its result; rejects with a `CyberDBError`. */
  request(op: string, table: string, args: readonly unknown[]): Promise<unknown>;
  /** Whether it can no longer be used. */
  readonly closed: boolean;
  /**
   * Starts a change feed: after it resolves, `sink` gets every change committed (in commit
   * order, none missed, none twice) until the returned function is called or `sink.end` is.
   * An engine without it makes `watch()` reject with `UNSUPPORTED`.
   *
   * @throws {CyberDBError} `NO_SUCH_TABLE` / `WRONG_TYPE` for the table, `CONNECTION_CLOSED`
   */
  watch?(target: WatchTarget, sink: WatchSink): Promise<() => void>;
}

/** Where a client's tables live, and the connections its proxies lease. */
export interface Engine {
  /** The engine's name, for errors (`UNSUPPORTED`) and docs. */
  readonly name: EngineName;
  /** Connections open now (leased or idle). */
  readonly connections: number;
  /** Lends an open connection. */
  lease(): Promise<EngineConnection>;
  /** Takes a leased connection back. */
  release(connection: EngineConnection): void;
  /** Closes every connection; pending requests reject with `CONNECTION_CLOSED`. Idempotent. */
  close(): Promise<void>;
}
