/**
 * The client: what `connect()`, `open()` and `connectRedis()` return. It
 * hands out proxies over its engine's connections and knows nothing of
 * where the tables live.
 *
 * @module
 */
import type { Engine, EngineName } from "./engine.ts";
import { KnownTables } from "./known_tables.ts";
import { Proxy } from "./proxy.ts";

/**
 * A client of one store of tables: a cyberdb server, an in-process store, or
 * Redis. Create it with `connect()`, `open()` or `connectRedis()`.
 */
export class Client implements AsyncDisposable {
  #engine: Engine;
  #known = new KnownTables();

  /**
   * Use `connect()`, `open()` or `connectRedis()` instead, which also check that the engine answers.
   *
   * @param engine where the tables live
   */
  constructor(engine: Engine) {
    this.#engine = engine;
  }

  /** The engine this client's tables live on: `"remote"`, `"memory"` or `"redis"`. */
  get engine(): EngineName {
    return this.#engine.name;
  }

  /** Number of connections open (leased or idle). */
  get connections(): number {
    return this.#engine.connections;
  }

  /**
   * A proxy not yet connected: call its `connect()` to lease a connection. All proxies of one
   * client share the tables it resolved, so `getCyberDict(name)` asks only the first time.
   */
  getProxy(): Proxy {
    return new Proxy(this.#engine, this.#known);
  }

  /** Closes every connection, leased ones included; their pending requests reject with `CONNECTION_CLOSED`. */
  close(): Promise<void> {
    return this.#engine.close();
  }

  /** Same as {@link Client.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
