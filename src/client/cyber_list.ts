/**
 * CyberList: a handle on a remote list table, with `Array` semantics where
 * `Array` has the method and Python `list` semantics for the rest. Negative
 * indexes count from the end.
 *
 * @module
 */
import type { ListOp } from "../protocol/messages.ts";
import { type Requester, watchThrough } from "./cyber_dict.ts";
import type { Batch, ListChange, WatchOptions, WatchPromise } from "./watch.ts";

/** Options of {@link CyberList.sort}. Only data is sent; the server never runs code from a client. */
export interface SortOptions {
  /** A dot path into each item to sort by, e.g. `"address.city"`. */
  by?: string;
  /** Largest first. Default `false`. */
  descending?: boolean;
}

/** Items fetched per request when iterating with `for await`. */
const PAGE = 1000;

/**
 * A remote `Array` held by the server. Every method is one atomic request.
 *
 * @typeParam T the type of the items (not checked by the server)
 * @example
 * ```ts
 * import { connect, Server } from "../../mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ port: 0 });
 * const client = await connect({ port });
 * {
 *   await using proxy = await client.getProxy().connect();
 *   const log = await proxy.createCyberList<number>("log", [3, 1, 2]);
 *   await log.sort();
 *   console.log(await log.toArray()); // [1, 2, 3]
 * }
 * await client.close();
 * await server.close();
 * ```
 */
export class CyberList<T = unknown> implements AsyncIterable<T> {
  /** The table's name. */
  readonly name: string;
  #proxy: Requester;

  /**
   * Handles are made by `Proxy.createCyberList` and `Proxy.getCyberList`.
   *
   * @param proxy the proxy whose connection carries the requests
   * @param name the table's name
   */
  constructor(proxy: Requester, name: string) {
    this.#proxy = proxy;
    this.name = name;
  }

  #call<R>(op: ListOp, ...args: unknown[]): Promise<R> {
    return this.#callWith(op, args);
  }

  // Takes the arguments as one array: spreading a large batch of items into a
  // call overflows the stack (about 100,000 arguments in V8).
  #callWith<R>(op: ListOp, args: readonly unknown[]): Promise<R> {
    return this.#proxy.request(op, this.name, args) as Promise<R>;
  }
  /**
   * Watches this list's changes: `{ op: "push", values }`, `{ op: "pop" }` (of the last item),
   * `{ op: "set", index, value }`, and `{ op: "replace" }` for every other change (`shift`,
   * `unshift`, `insert`, `remove`, `splice`, `reverse`, `sort`, `clear`): read the list again
   * then. Delivery and ending as `CyberDict.watch`.
   *
   * @param options `buffer`: bytes held for a slow reader
   * @returns the watch: await it to know it is in place, or iterate it directly
   * @throws {UnsupportedError} on an engine that cannot watch
   * @example
   * ```ts
   * import { connect, Server } from "../../mod.ts";
   * const server = new Server();
   * const client = await connect({ port: (await server.start({ port: 0 })).port });
   * await using proxy = await client.getProxy().connect();
   * const jobs = await proxy.createCyberList<string>("jobs");
   * const changes = await jobs.watch();
   * await jobs.push("a", "b");
   * for await (const change of changes) {
   *   console.log(change); // { op: "push", values: [ "a", "b" ] }
   *   break;
   * }
   * await client.close();
   * await server.close();
   * ```
   */
  watch(options: WatchOptions = {}): WatchPromise<ListChange<T> | Batch<ListChange<T>>> {
    return watchThrough(this.#proxy, { table: this.name, kind: "CyberList" }, options);
  }

  /** The item at `index` (negative counts from the end), or `undefined` out of range. */
  at(index: number): Promise<T | undefined> {
    return this.#call("l.at", index);
  }

  /**
   * Replaces the item at `index`.
   *
   * @throws {IndexOutOfRangeError} out of range
   */
  set(index: number, value: T): Promise<void> {
    return this.#call("l.set", index, value);
  }

  /** Appends items; resolves to the new length. */
  push(...values: T[]): Promise<number> {
    return this.#callWith("l.push", values);
  }

  /**
   * Removes and resolves to the last item (`undefined` when empty), or the item at `index`.
   *
   * @throws {IndexOutOfRangeError} for an explicit `index` out of range
   */
  pop(index?: number): Promise<T | undefined> {
    return index === undefined ? this.#call("l.pop") : this.#call("l.pop", index);
  }

  /** Removes and resolves to the first item, or `undefined` when empty. */
  shift(): Promise<T | undefined> {
    return this.#call("l.shift");
  }

  /** Prepends items; resolves to the new length. */
  unshift(...values: T[]): Promise<number> {
    return this.#callWith("l.unshift", values);
  }

  /** Inserts `value` before `index`, clamped to the list (Python's `list.insert`). */
  insert(index: number, value: T): Promise<void> {
    return this.#call("l.insert", index, value);
  }

  /**
   * Removes the first item structurally equal to `value`.
   *
   * @throws {ValueNotFoundError} when there is none
   */
  remove(value: T): Promise<void> {
    return this.#call("l.remove", value);
  }

  /** Number of items structurally equal to `value`. */
  count(value: T): Promise<number> {
    return this.#call("l.count", value);
  }

  /** Index of the first item structurally equal to `value` from `fromIndex`, or -1. */
  indexOf(value: T, fromIndex?: number): Promise<number> {
    return fromIndex === undefined ? this.#call("l.indexOf", value) : this.#call("l.indexOf", value, fromIndex);
  }

  /** Whether an item structurally equal to `value` is in the list. */
  includes(value: T): Promise<boolean> {
    return this.#call("l.includes", value);
  }

  /** The items from `start` up to (not including) `end`, as `Array.prototype.slice`. */
  slice(start?: number, end?: number): Promise<T[]> {
    return this.#call("l.slice", ...trimUndefined([start, end]));
  }

  /** Removes `deleteCount` items at `start` and inserts `items`; resolves to the removed items. */
  splice(start: number, deleteCount?: number, ...items: T[]): Promise<T[]> {
    return deleteCount === undefined
      ? this.#call("l.splice", start)
      : this.#callWith("l.splice", [start, deleteCount, ...items]);
  }

  /** Reverses the list in place. */
  reverse(): Promise<void> {
    return this.#call("l.reverse");
  }

  /**
   * Sorts in place: numbers and bigints by value, strings by code point, Dates by time.
   *
   * @throws {WrongTypeError} for items that cannot be compared (the list is left unchanged)
   */
  sort(options?: SortOptions): Promise<void> {
    return options === undefined ? this.#call("l.sort") : this.#call("l.sort", { ...options });
  }

  /** Removes every item. */
  clear(): Promise<void> {
    return this.#call("l.clear");
  }

  /** Number of items. */
  length(): Promise<number> {
    return this.#call("l.length");
  }

  /** Every item. */
  toArray(): Promise<T[]> {
    return this.#call("l.toArray");
  }

  /** Iterates over the items, fetching them a page at a time. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (let start = 0;; start += PAGE) {
      const page = await this.slice(start, start + PAGE);
      yield* page;
      if (page.length < PAGE) return;
    }
  }
}

function trimUndefined(args: unknown[]): unknown[] {
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  return args;
}
