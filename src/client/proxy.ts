/**
 * Proxy: a connection leased from the client's pool, and the table
 * operations made over it. Requests on one proxy are applied in the order
 * they were made, even when many are in flight.
 *
 * @module
 */
import { ProxyClosedError, UnsupportedError } from "../errors.ts";
import type { InfoOptions, ServerInfo, StoreOp, TableInfo, TableKind } from "../protocol/messages.ts";
import { AtomicBatch } from "./atomic.ts";
import { CyberDict, type DictInit, type Requester, toEntries } from "./cyber_dict.ts";
import { CyberList } from "./cyber_list.ts";
import type { Engine, EngineConnection } from "./engine.ts";
import { KnownTables } from "./known_tables.ts";
import {
  type Batch,
  ChangeStream,
  type StoreChange,
  type WatchOptions,
  type WatchPromise,
  watchPromise,
  type WatchTarget,
} from "./watch.ts";

/**
 * A leased connection and the table operations over it. Get one with
 * `client.getProxy().connect()`; give it back with `close()` or `await using`.
 *
 * @example
 * ```ts
 * import { connect, Server } from "../../mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ port: 0 });
 * const client = await connect({ port });
 * {
 *   await using proxy = await client.getProxy().connect();
 *   await proxy.createCyberList("jobs");
 *   console.log(await proxy.tables()); // [ { name: "jobs", type: "CyberList" } ]
 * }
 * await client.close();
 * await server.close();
 * ```
 */
export class Proxy implements Requester, AsyncDisposable {
  #pool: Engine;
  #known: KnownTables;
  #connection: EngineConnection | undefined;
  #state: "new" | "connecting" | "open" | "closed" = "new";

  /**
   * Proxies are made by `client.getProxy()`.
   *
   * @param pool the engine to lease a connection from
   * @param known the tables its client already resolved (shared by the client's proxies)
   */
  constructor(pool: Engine, known: KnownTables = new KnownTables()) {
    this.#pool = pool;
    this.#known = known;
  }

  /**
   * Leases a connection from the pool.
   *
   * @returns this proxy, ready for requests
   * @throws {ProxyClosedError} when the proxy was already used and closed
   * @throws {CyberDBError} when no connection can be opened
   */
  async connect(): Promise<this> {
    if (this.#state !== "new") {
      throw new ProxyClosedError(
        "this proxy was already connected; get a new one with client.getProxy()",
      );
    }
    this.#state = "connecting";
    try {
      this.#connection = await this.#pool.lease();
    } catch (error) {
      this.#state = "closed";
      throw error;
    }
    if (this.#state === "connecting") this.#state = "open";
    else this.#pool.release(this.#connection);
    return this;
  }

  /** Gives the connection back to the pool. Safe to call more than once, and after `client.close()`. */
  close(): Promise<void> {
    const connection = this.#connection;
    this.#state = "closed";
    this.#connection = undefined;
    if (connection) this.#pool.release(connection);
    return Promise.resolve();
  }

  /** Same as {@link Proxy.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Sends one raw request. The table handles call this; applications use them instead.
   *
   * @throws {ProxyClosedError} when the proxy is not connected
   */
  request(
    op: string,
    table: string,
    args: readonly unknown[],
  ): Promise<unknown> {
    if (this.#connection === undefined || this.#state !== "open") {
      return Promise.reject(
        new ProxyClosedError(
          this.#state === "closed"
            ? "this proxy is closed; get a new one with client.getProxy().connect()"
            : "this proxy is not connected yet; await proxy.connect() first",
        ),
      );
    }
    const reply = this.#connection.request(op, table, args);
    if (!this.#known.knows(table)) return reply;
    // A handle resolved without asking finds out here that its table went away or changed kind.
    return reply.catch((error) => {
      this.#known.failed(table, error);
      throw error;
    });
  }

  /**
   * Starts an atomic batch: checks and writes on any tables, sent in one request by `commit()`
   * and applied all together or not at all (see {@link AtomicBatch}).
   */
  atomic(): AtomicBatch {
    return new AtomicBatch(this);
  }

  /**
   * Watches the whole store: every change to every table, each with its `table`, and
   * `{ op: "createTable", table, type }` / `{ op: "deleteTable", table }`. Delivery and ending
   * as `CyberDict.watch`. The watch lives on this proxy's connection: it goes on after
   * `proxy.close()` until stopped, and ends with `CONNECTION_CLOSED` at `client.close()`.
   *
   * @param options `buffer`: bytes held for a slow reader
   * @returns the watch: await it to know it is in place, or iterate it directly
   * @throws {UnsupportedError} on an engine that cannot watch
   * @throws {ProxyClosedError} when the proxy is not connected
   */
  watch(options: WatchOptions = {}): WatchPromise<StoreChange | Batch<StoreChange>> {
    return this.watchTarget({ table: "" }, options);
  }

  /**
   * Starts a watch on this proxy's connection. The table handles' `watch()` call this.
   *
   * @param target the table (`""`: the whole store), its kind, keys
   * @param options the stream's bound
   * @returns the watch
   */
  watchTarget<C>(target: WatchTarget, options: WatchOptions = {}): WatchPromise<C> {
    return watchPromise((async () => {
      const stream = new ChangeStream<C>(options.buffer);
      const connection = this.#connection;
      if (connection === undefined || this.#state !== "open") {
        await this.request("tables", "", []); // rejects with the reason
      }
      if (!connection!.watch) {
        throw new UnsupportedError(
          `the ${this.#pool.name} engine cannot watch changes (not built yet); ` +
            `use the memory or remote engine, or read the table again when you need it fresh`,
        );
      }
      stream.unsubscribe = await connection!.watch(target, stream);
      return stream;
    })());
  }

  #store(op: StoreOp, table: string, ...args: unknown[]): Promise<unknown> {
    return this.request(op, table, args);
  }

  /**
   * Creates a dict table.
   *
   * @param name the table's name
   * @param initial initial entries: an object, a `Map` or `[key, value]` pairs
   * @throws {TableExistsError} when the name is taken
   */
  async createCyberDict<V = unknown>(
    name: string,
    initial?: DictInit<V>,
  ): Promise<CyberDict<V>> {
    await this.#store(
      "create",
      name,
      "CyberDict",
      ...(initial === undefined ? [] : [toEntries(initial)]),
    );
    this.#known.add(name, "CyberDict");
    return new CyberDict<V>(this, name);
  }

  /**
   * Creates a list table.
   *
   * @param name the table's name
   * @param initial initial items
   * @throws {TableExistsError} when the name is taken
   */
  async createCyberList<T = unknown>(
    name: string,
    initial?: Iterable<T>,
  ): Promise<CyberList<T>> {
    await this.#store(
      "create",
      name,
      "CyberList",
      ...(initial === undefined ? [] : [[...initial]]),
    );
    this.#known.add(name, "CyberList");
    return new CyberList<T>(this, name);
  }

  /**
   * A handle on an existing dict table. The first time this client (any of its proxies) resolves
   * `name` as a dict, it asks whether the table exists and is a dict; after that it does not ask
   * again (no round trip), and a table deleted or replaced by a list in between makes the handle's
   * first op fail with `NO_SUCH_TABLE` or `WRONG_TYPE` instead.
   *
   * @param name the table's name
   * @returns a handle on the table
   * @throws {NoSuchTableError} when it does not exist
   * @throws {WrongTypeError} when it is a list
   */
  async getCyberDict<V = unknown>(name: string): Promise<CyberDict<V>> {
    await this.#resolve(name, "CyberDict");
    return new CyberDict<V>(this, name);
  }

  /**
   * A handle on an existing list table. Asks only the first time this client resolves `name` as a
   * list, as {@link Proxy.getCyberDict} does.
   *
   * @param name the table's name
   * @returns a handle on the table
   * @throws {NoSuchTableError} when it does not exist
   * @throws {WrongTypeError} when it is a dict
   */
  async getCyberList<T = unknown>(name: string): Promise<CyberList<T>> {
    await this.#resolve(name, "CyberList");
    return new CyberList<T>(this, name);
  }

  /** Checks that `name` is a table of `kind`, unless this client already did. */
  async #resolve(name: string, kind: TableKind): Promise<void> {
    if (this.#known.has(name, kind)) {
      // Still refuse a closed proxy, as the request would.
      if (this.#connection === undefined || this.#state !== "open") await this.request("open", name, [kind]);
      return;
    }
    await this.#store("open", name, kind);
    this.#known.add(name, kind);
  }

  /**
   * Deletes a table and everything in it; this client forgets it was resolved.
   *
   * @throws {NoSuchTableError} when it does not exist
   */
  async deleteTable(name: string): Promise<void> {
    this.#known.forget(name);
    try {
      await this.#store("drop", name);
    } finally {
      this.#known.forget(name);
    }
  }

  /** Every table, in creation order. */
  tables(): Promise<TableInfo[]> {
    return this.#store("tables", "") as Promise<TableInfo[]>;
  }

  /**
   * The server's uptime, connections, requests, table sizes, memory, last snapshot and journal; and when
   * asked, its slow log (`slowlog: true`, newest first) and its connections (`clients: true`).
   *
   * @param options the sections beyond the summary
   * @returns the server's facts
   * @throws {UnsupportedError} on the Redis engine (ask Redis: `INFO`, `SLOWLOG GET`, `CLIENT LIST`)
   */
  info(options?: InfoOptions): Promise<ServerInfo> {
    return (options === undefined ? this.#store("info", "") : this.#store("info", "", options)) as Promise<ServerInfo>;
  }
}
