/**
 * The server's connections as Redis's `CLIENT LIST` shows them. Each session
 * bumps its own {@link ConnectedClient}: a counter and a timestamp per request
 * (the timestamp is the one the request's latency is measured from), nothing
 * else on the request path; the rows are made only when `info` asks.
 *
 * @module
 */
import type { Channel } from "../protocol/channel.ts";
import type { ClientInfo } from "../protocol/messages.ts";

/** One connection's counters, as its session updates them. */
export class ConnectedClient {
  /** Rises by one per connection accepted. */
  readonly id: number;
  /** `host:port`, or `unix socket <path>`. */
  readonly address: string;
  /** `performance.now()` when it connected. */
  readonly since: number = performance.now();
  /** `performance.now()` at its last request. */
  lastRequest: number = this.since;
  /** Requests it sent. */
  requests = 0;
  /** Whether it passed the handshake. */
  authenticated = false;
  readonly #channel: Channel;

  /**
   * Starts counting a connection.
   *
   * @param id its number
   * @param channel the connection
   * @example
   * ```ts
   * import { Channel } from "../protocol/channel.ts";
   * import { runtime } from "../runtime/mod.ts";
   * import { ConnectedClient } from "./client_list.ts";
   * const listener = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
   * const conn = await runtime.connect(listener.addr);
   * const client = new ConnectedClient(1, new Channel(conn));
   * console.log(client.row(performance.now()).requests); // 0
   * conn.close();
   * listener.close();
   * ```
   */
  constructor(id: number, channel: Channel) {
    this.id = id;
    this.#channel = channel;
    const { hostname, port, path } = channel.conn.remoteAddr;
    this.address = path === undefined ? `${hostname}:${port}` : `unix socket ${path}`;
  }

  /**
   * Its row of the client list.
   *
   * @param now `performance.now()`
   * @returns age and idle time in seconds, requests, bytes queued
   */
  row(now: number): ClientInfo {
    return {
      id: this.id,
      address: this.address,
      age: (now - this.since) / 1000,
      idle: (now - this.lastRequest) / 1000,
      requests: this.requests,
      queued: this.#channel.unsentBytes,
      authenticated: this.authenticated,
    };
  }
}
