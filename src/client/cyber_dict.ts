/**
 * CyberDict: a handle on a remote dict table, with `Map` semantics where
 * `Map` has the method and Python `dict` semantics for the rest.
 *
 * @module
 */
import { UnsupportedError } from "../errors.ts";
import type { DictOp, Key } from "../protocol/messages.ts";
import {
  type Batch,
  type DictChange,
  type DictWatchOptions,
  type WatchOptions,
  type WatchPromise,
  watchPromise,
  type WatchTarget,
} from "./watch.ts";

export type { Key };

/** Entries accepted by `update` and `createCyberDict`: an object, a `Map` or `[key, value]` pairs. */
export type DictInit<V> =
  | Record<string, V>
  | ReadonlyMap<Key, V>
  | Iterable<readonly [Key, V]>;

/** Options of {@link CyberDict.set}, {@link CyberDict.setDefault} and {@link CyberDict.update}. */
export interface SetOptions {
  /** Milliseconds until the entry expires (then it is gone for every op); without it, it never does. */
  expireIn?: number;
}

/** Anything that can send a request over a connection: a `Proxy`. */
export interface Requester {
  /** Sends one op on one table and resolves to the reply's value. */
  request(
    op: string,
    table: string,
    args: readonly unknown[],
  ): Promise<unknown>;
  /** Starts a change feed (see `Proxy.watchTarget`); absent where changes cannot be watched. */
  watchTarget?<C>(target: WatchTarget, options?: WatchOptions): WatchPromise<C>;
}

/**
 * Starts a watch through a requester, or refuses with `UNSUPPORTED`.
 *
 * @param requester the proxy
 * @param target what to watch
 * @param options the stream's bound
 * @returns the watch
 */
export function watchThrough<C>(requester: Requester, target: WatchTarget, options?: WatchOptions): WatchPromise<C> {
  if (requester.watchTarget) return requester.watchTarget<C>(target, options);
  return watchPromise(Promise.reject(new UnsupportedError("watch: this requester cannot watch changes; use a Proxy")));
}

/**
 * Turns an object, a `Map` or an iterable of pairs into `[key, value]` pairs.
 *
 * @param init the entries
 * @returns an array of pairs
 */
export function toEntries<V>(init: DictInit<V>): [Key, V][] {
  if (init instanceof Map) return [...init];
  if (Symbol.iterator in Object(init)) return [...(init as Iterable<[Key, V]>)];
  return Object.entries(init as Record<string, V>);
}

/**
 * A remote `Map` held by the server. Every method is one atomic request.
 *
 * @typeParam V the type of the values (not checked by the server)
 * @example
 * ```ts
 * import { connect, Server } from "../../mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ port: 0 });
 * const client = await connect({ port });
 * {
 *   await using proxy = await client.getProxy().connect();
 *   const centre = await proxy.createCyberDict<string>("centre");
 *   await centre.set("content", "Hello CyberDB!");
 *   console.log(await centre.get("content")); // Hello CyberDB!
 * }
 * await client.close();
 * await server.close();
 * ```
 */
export class CyberDict<V = unknown> implements AsyncIterable<[Key, V]> {
  /** The table's name. */
  readonly name: string;
  #proxy: Requester;

  /**
   * Handles are made by `Proxy.createCyberDict` and `Proxy.getCyberDict`.
   *
   * @param proxy the proxy whose connection carries the requests
   * @param name the table's name
   */
  constructor(proxy: Requester, name: string) {
    this.#proxy = proxy;
    this.name = name;
  }

  #call<T>(op: DictOp, ...args: unknown[]): Promise<T> {
    return this.#proxy.request(op, this.name, args) as Promise<T>;
  }

  /**
   * The value stored under `key`; a missing key gives `fallback` (default `undefined`), a stored `null` gives `null`.
   */
  get(key: Key): Promise<V | undefined>;
  /** The value stored under `key`, or `fallback` when the key is missing. */
  get<D>(key: Key, fallback: D): Promise<V | D>;
  get(key: Key, ...fallback: unknown[]): Promise<unknown> {
    return this.#call("d.get", key, ...fallback.slice(0, 1));
  }

  /**
   * Stores `value` under `key`, replacing any expiry the key had.
   *
   * @param options `{ expireIn: ms }`: the entry expires that long from now
   * @throws {BadRequestError} for an `expireIn` that is not a finite number ≥ 0
   * @example
   * ```ts
   * import { connect, Server } from "../../mod.ts";
   * const server = new Server();
   * const client = await connect({ port: (await server.start({ port: 0 })).port });
   * {
   *   await using proxy = await client.getProxy().connect();
   *   const sessions = await proxy.createCyberDict("sessions");
   *   await sessions.set("sid:1", { user: 7 }, { expireIn: 30_000 });
   *   console.log(await sessions.ttl("sid:1") !== null); // true
   * }
   * await client.close();
   * await server.close();
   * ```
   */
  set(key: Key, value: V, options?: SetOptions): Promise<void> {
    return options?.expireIn === undefined
      ? this.#call("d.set", key, value)
      : this.#call("d.set", key, value, { expireIn: options.expireIn });
  }

  /**
   * Makes `key` expire `ms` milliseconds from now (0: at once).
   *
   * @returns whether the key exists; the expiry is set only then
   */
  expire(key: Key, ms: number): Promise<boolean> {
    return this.#call("d.expire", key, ms);
  }

  /** Removes `key`'s expiry; resolves to whether it had one. */
  persist(key: Key): Promise<boolean> {
    return this.#call("d.persist", key);
  }

  /** Milliseconds until `key` expires: `null` when it has no expiry, `undefined` when it is missing. */
  ttl(key: Key): Promise<number | null | undefined> {
    return this.#call("d.ttl", key);
  }

  /**
   * Watches this dict's changes: `{ op: "set", key, value }`, `{ op: "delete", key }` (with
   * `expired: true` when an expiry removed it), `{ op: "clear" }`; an atomic batch comes as one
   * `{ op: "batch", changes }`. Every change committed after the returned promise resolves is
   * delivered, in commit order, none missed, none twice; breaking out of `for await` stops it.
   * It ends with `SLOW_CONSUMER` when the reader falls too far behind, `CONNECTION_CLOSED` when
   * the connection drops, `NO_SUCH_TABLE` when the dict is deleted: then read the dict again
   * and watch again.
   *
   * @param options `keys`: only these keys (and `clear`); `buffer`: bytes held for a slow reader
   * @returns the watch: await it to know it is in place, or iterate it directly
   * @throws {UnsupportedError} on an engine that cannot watch
   * @example
   * ```ts
   * import { connect, Server } from "../../mod.ts";
   * const server = new Server();
   * const client = await connect({ port: (await server.start({ port: 0 })).port });
   * await using proxy = await client.getProxy().connect();
   * const centre = await proxy.createCyberDict<string>("centre");
   * const changes = await centre.watch({ keys: ["content"] });
   * await centre.set("content", "Hello again!");
   * for await (const change of changes) {
   *   console.log(change); // { op: "set", key: "content", value: "Hello again!" }
   *   break;
   * }
   * await client.close();
   * await server.close();
   * ```
   */
  watch(options: DictWatchOptions = {}): WatchPromise<DictChange<V> | Batch<DictChange<V>>> {
    const keys = options.keys === undefined ? undefined : [...options.keys];
    return watchThrough(this.#proxy, { table: this.name, kind: "CyberDict", keys }, options);
  }

  /** Whether `key` is present. */
  has(key: Key): Promise<boolean> {
    return this.#call("d.has", key);
  }

  /** Removes `key`; resolves to whether it existed. */
  delete(key: Key): Promise<boolean> {
    return this.#call("d.delete", key);
  }

  /** Number of entries. */
  size(): Promise<number> {
    return this.#call("d.size");
  }

  /** Every key, in insertion order. */
  keys(): Promise<Key[]> {
    return this.#call("d.keys");
  }

  /** Every value, in insertion order. */
  values(): Promise<V[]> {
    return this.#call("d.values");
  }

  /** Every `[key, value]` pair, in insertion order. */
  entries(): Promise<[Key, V][]> {
    return this.#call("d.entries");
  }

  /** Removes every entry. */
  clear(): Promise<void> {
    return this.#call("d.clear");
  }

  /**
   * Stores `value` under `key` only if the key is missing; resolves to the value now stored.
   *
   * @param options `{ expireIn: ms }`: a value stored now expires that long from now
   */
  setDefault(key: Key, value: V, options?: SetOptions): Promise<V> {
    return options?.expireIn === undefined
      ? this.#call("d.setDefault", key, value)
      : this.#call("d.setDefault", key, value, { expireIn: options.expireIn });
  }

  /**
   * Stores every entry of an object, a `Map` or `[key, value]` pairs, in one atomic request.
   *
   * @param options `{ expireIn: ms }`: every entry stored expires that long from now
   */
  update(entries: DictInit<V>, options?: SetOptions): Promise<void> {
    return options?.expireIn === undefined
      ? this.#call("d.update", toEntries(entries))
      : this.#call("d.update", toEntries(entries), { expireIn: options.expireIn });
  }

  /**
   * Removes `key` and resolves to its value.
   *
   * @throws {KeyNotFoundError} when the key is missing
   */
  pop(key: Key): Promise<V>;
  /** Removes `key` and resolves to its value, or to `fallback` when it is missing. */
  pop<D>(key: Key, fallback: D): Promise<V | D>;
  pop(key: Key, ...fallback: unknown[]): Promise<unknown> {
    return this.#call("d.pop", key, ...fallback.slice(0, 1));
  }

  /**
   * Removes the most recently inserted entry and resolves to it.
   *
   * @throws {KeyNotFoundError} when the dict is empty
   */
  popItem(): Promise<[Key, V]> {
    return this.#call("d.popItem");
  }

  /**
   * Atomically adds `by` to the number under `key` (a missing key starts at 0) and resolves to the new number.
   *
   * @throws {WrongTypeError} when the stored value is not a number (or, for a bigint `by`, not a bigint)
   */
  increment<N extends number | bigint = number>(key: Key, by?: N): Promise<N> {
    return by === undefined ? this.#call("d.increment", key) : this.#call("d.increment", key, by);
  }

  /** The whole dict as a plain object (number keys become strings). */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries(await this.entries());
  }

  /** The whole dict as a `Map`. */
  async toMap(): Promise<Map<Key, V>> {
    return new Map(await this.entries());
  }

  /** Iterates over a snapshot of the entries taken when the loop starts. */
  async *[Symbol.asyncIterator](): AsyncIterator<[Key, V]> {
    yield* await this.entries();
  }
}
