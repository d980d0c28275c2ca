/**
 * The remote engine: a pool of authenticated, pipelined connections to one
 * cyberdb server. Idle connections are closed after `idleTimeout`; broken
 * ones are dropped when they break, never re-checked with an extra round trip.
 *
 * @module
 */
import type { Engine, EngineConnection } from "../../client/engine.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { runtime, type TimerId } from "../../runtime/mod.ts";
import { Connection, type ConnectOptions } from "./connection.ts";

/** The error for a closed client. */
function clientClosedError(): ConnectionClosedError {
  return new ConnectionClosedError("the client is closed; call connect() again");
}

/** The connections a remote client's proxies lease. */
export class RemoteEngine implements Engine {
  /** This engine's name. */
  readonly name = "remote";
  #options: ConnectOptions;
  #idleTimeout: number;
  #idle: Connection[] = [];
  #all = new Set<Connection>();
  #sweep: TimerId | undefined;
  #closed = false;
  // Shared mode: how many connections at most, the proxies on each, and those being opened.
  #shared: number;
  #users = new Map<Connection, number>();
  #opening: Promise<Connection>[] = [];

  /** @param options where the server is and how to authenticate */
  constructor(options: ConnectOptions) {
    this.#options = { ...options };
    this.#idleTimeout = options.idleTimeout ?? 60_000;
    this.#shared = options.sharedConnections ?? 0;
    if (!Number.isInteger(this.#shared) || this.#shared < 0) {
      throw new RangeError("sharedConnections must be a whole number ≥ 0 (0: one connection per proxy)");
    }
    if (options.tls !== undefined && options.path !== undefined) {
      throw new RangeError("tls is for TCP connections; drop tls or path (a Unix socket's file mode protects it)");
    }
  }

  /** Number of connections open (leased or idle). */
  get connections(): number {
    return this.#all.size;
  }

  /**
   * Lends an idle connection, or opens a new one.
   *
   * @throws {ConnectionClosedError} when the client is closed or the server is unreachable
   */
  async lease(): Promise<Connection> {
    if (this.#closed) throw clientClosedError();
    if (this.#shared > 0) return this.#leaseShared();
    for (
      let connection = this.#idle.pop();
      connection;
      connection = this.#idle.pop()
    ) {
      if (!connection.closed) return connection;
      this.#all.delete(connection);
    }
    const connection = await Connection.open(this.#options);
    if (this.#closed) {
      connection.close();
      throw clientClosedError();
    }
    this.#all.add(connection);
    return connection;
  }

  /**
   * Shared mode: the open connection with the fewest proxies, or a new one
   * while there are fewer than `sharedConnections`. Each proxy's requests
   * still go out, and are applied, in the order it made them.
   */
  async #leaseShared(): Promise<Connection> {
    for (const connection of this.#all) {
      if (connection.closed) this.#drop(connection);
    }
    if (this.#all.size + this.#opening.length < this.#shared) {
      const opening = Connection.open(this.#options);
      this.#opening.push(opening);
      let connection: Connection;
      try {
        connection = await opening;
      } finally {
        this.#opening.splice(this.#opening.indexOf(opening), 1);
      }
      if (this.#closed) {
        connection.close();
        throw clientClosedError();
      }
      this.#all.add(connection);
      this.#users.set(connection, 1);
      return connection;
    }
    if (this.#all.size === 0) {
      await Promise.race(this.#opening).catch(() => {});
      return this.lease();
    }
    let best: Connection | undefined;
    for (const connection of this.#all) {
      if (best === undefined || this.#users.get(connection)! < this.#users.get(best)!) best = connection;
    }
    this.#users.set(best!, this.#users.get(best!)! + 1);
    const idle = this.#idle.indexOf(best!);
    if (idle >= 0) this.#idle.splice(idle, 1);
    return best!;
  }

  #drop(connection: Connection): void {
    connection.close();
    this.#all.delete(connection);
    this.#users.delete(connection);
  }

  /** Takes a connection back; a broken one, or any after `close()`, is closed and dropped. */
  release(leased: EngineConnection): void {
    const connection = leased as Connection;
    if (connection.closed || this.#closed) {
      this.#drop(connection);
      return;
    }
    if (this.#shared > 0) {
      const users = (this.#users.get(connection) ?? 1) - 1;
      this.#users.set(connection, users);
      if (users > 0) return;
    }
    connection.idleSince = performance.now();
    this.#idle.push(connection);
    this.#scheduleSweep(this.#idleTimeout);
  }

  #scheduleSweep(delay: number): void {
    if (this.#sweep !== undefined) return;
    const sweep = setTimeout(() => {
      this.#sweep = undefined;
      const now = performance.now();
      this.#idle = this.#idle.filter((connection) => {
        const keep = !connection.closed &&
          (now - connection.idleSince < this.#idleTimeout || connection.watching > 0);
        if (!keep) this.#drop(connection);
        return keep;
      });
      if (this.#idle.length > 0) {
        const oldest = Math.min(...this.#idle.map((c) => c.idleSince));
        this.#scheduleSweep(this.#idleTimeout - (now - oldest));
      }
    }, Math.max(1, delay));
    runtime.unrefTimer(sweep);
    this.#sweep = sweep;
  }

  /** Closes every connection, leased ones included; their pending requests reject with `CONNECTION_CLOSED`. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#sweep);
    for (const connection of this.#all) connection.close();
    this.#all.clear();
    this.#users.clear();
    this.#idle = [];
    return Promise.resolve();
  }
}
