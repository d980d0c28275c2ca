/**
 * `proxy.atomic()`: checks and writes on any number of tables, sent as one
 * request and applied as one step, all or nothing.
 *
 * @module
 */
import type { CyberDBError } from "../errors.ts";
import type { Key } from "../protocol/messages.ts";
import { CyberDict, type DictInit, type Requester, type SetOptions, toEntries } from "./cyber_dict.ts";
import type { CyberList, SortOptions } from "./cyber_list.ts";

/** A table handle a batch step names. */
export type AnyTable = CyberDict<never> | CyberList<never> | CyberDict | CyberList;

/** What `commit()` resolves to. */
export type AtomicResult =
  | {
    /** Every check held and every op was applied. */
    ok: true;
    /** Each op's result, in the order the ops were added (checks have none). */
    results: unknown[];
  }
  | {
    /** A check failed: nothing was applied. */
    ok: false;
    /** Index of the check that failed, among the batch's checks (0 for the first). */
    failed: number;
  };

/** The error `commit()` rejects with when an op fails: the op's own error, and its index. */
export type AtomicOpError = CyberDBError & {
  /** Index of the failing op among the batch's ops (0 for the first); nothing was applied. */
  index?: number;
};

/**
 * A batch being built. Every method but `commit` adds a step and returns the
 * batch. The checks are evaluated first, against the tables as they are
 * before the batch; then the ops are applied in order. A failed check
 * applies nothing; a failed op applies nothing and `commit()` rejects.
 *
 * @example
 * ```ts
 * import { connect, Server } from "../../mod.ts";
 * const server = new Server();
 * const client = await connect({ port: (await server.start({ port: 0 })).port });
 * {
 *   await using proxy = await client.getProxy().connect();
 *   const accounts = await proxy.createCyberDict<number>("accounts", { alice: 100, bob: 0 });
 *   const ledger = await proxy.createCyberList("ledger");
 *   const result = await proxy.atomic()
 *     .check(accounts, "alice", 100)
 *     .set(accounts, "alice", 50)
 *     .increment(accounts, "bob", 50)
 *     .push(ledger, { from: "alice", to: "bob", amount: 50 })
 *     .commit();
 *   console.log(result); // { ok: true, results: [ undefined, 50, 1 ] }
 * }
 * await client.close();
 * await server.close();
 * ```
 */
export class AtomicBatch {
  #proxy: Requester;
  #steps: unknown[][] = [];

  /**
   * Batches are made by `proxy.atomic()`.
   *
   * @param proxy where `commit()` sends the batch
   */
  constructor(proxy: Requester) {
    this.#proxy = proxy;
  }

  #add(op: string, table: AnyTable, ...args: unknown[]): this {
    this.#steps.push([op, table.name, ...args]);
    return this;
  }

  /**
   * Requires the value under a dict key or at a list index to be deep-equal to `expected`;
   * `undefined` means it must be missing (the key absent, the index out of range).
   */
  check(table: AnyTable, where: Key, expected: unknown): this {
    return expected === undefined ? this.#add("check", table, where) : this.#add("check", table, where, expected);
  }

  /** `dict.set(key, value, options)` or `list.set(index, value)`. */
  set(table: AnyTable, where: Key, value: unknown, options?: SetOptions): this {
    if (table instanceof CyberDict && options?.expireIn !== undefined) {
      return this.#add("d.set", table, where, value, { expireIn: options.expireIn });
    }
    return this.#add(table instanceof CyberDict ? "d.set" : "l.set", table, where, value);
  }

  /** `dict.delete(key)`. */
  delete(table: AnyTable, key: Key): this {
    return this.#add("d.delete", table, key);
  }

  /** `dict.clear()` or `list.clear()`. */
  clear(table: AnyTable): this {
    return this.#add(table instanceof CyberDict ? "d.clear" : "l.clear", table);
  }

  /** `dict.setDefault(key, value, options)`. */
  setDefault(table: AnyTable, key: Key, value: unknown, options?: SetOptions): this {
    return options?.expireIn === undefined
      ? this.#add("d.setDefault", table, key, value)
      : this.#add("d.setDefault", table, key, value, { expireIn: options.expireIn });
  }

  /** `dict.update(entries, options)`. */
  update(table: AnyTable, entries: DictInit<unknown>, options?: SetOptions): this {
    return options?.expireIn === undefined
      ? this.#add("d.update", table, toEntries(entries))
      : this.#add("d.update", table, toEntries(entries), { expireIn: options.expireIn });
  }

  /** `dict.pop(key, fallback?)`, or `list.pop(index?)` (pass no fallback for a list). */
  pop(table: AnyTable, ...where: unknown[]): this {
    return this.#add(table instanceof CyberDict ? "d.pop" : "l.pop", table, ...where.slice(0, 2));
  }

  /** `dict.popItem()`. */
  popItem(table: AnyTable): this {
    return this.#add("d.popItem", table);
  }

  /** `dict.increment(key, by = 1)`. */
  increment(table: AnyTable, key: Key, by?: number | bigint): this {
    return by === undefined ? this.#add("d.increment", table, key) : this.#add("d.increment", table, key, by);
  }

  /** `dict.expire(key, ms)`. */
  expire(table: AnyTable, key: Key, ms: number): this {
    return this.#add("d.expire", table, key, ms);
  }

  /** `dict.persist(key)`. */
  persist(table: AnyTable, key: Key): this {
    return this.#add("d.persist", table, key);
  }

  /** `list.push(...values)`. */
  push(table: AnyTable, ...values: unknown[]): this {
    return this.#add("l.push", table, ...values);
  }

  /** `list.shift()`. */
  shift(table: AnyTable): this {
    return this.#add("l.shift", table);
  }

  /** `list.unshift(...values)`. */
  unshift(table: AnyTable, ...values: unknown[]): this {
    return this.#add("l.unshift", table, ...values);
  }

  /** `list.insert(index, value)`. */
  insert(table: AnyTable, index: number, value: unknown): this {
    return this.#add("l.insert", table, index, value);
  }

  /** `list.remove(value)`. */
  remove(table: AnyTable, value: unknown): this {
    return this.#add("l.remove", table, value);
  }

  /** `list.splice(start, deleteCount?, ...items)`. */
  splice(table: AnyTable, start: number, deleteCount?: number, ...items: unknown[]): this {
    return deleteCount === undefined
      ? this.#add("l.splice", table, start)
      : this.#add("l.splice", table, start, deleteCount, ...items);
  }

  /** `list.reverse()`. */
  reverse(table: AnyTable): this {
    return this.#add("l.reverse", table);
  }

  /** `list.sort(options)`. */
  sort(table: AnyTable, options?: SortOptions): this {
    return options === undefined ? this.#add("l.sort", table) : this.#add("l.sort", table, { ...options });
  }

  /**
   * Sends the batch as one request, applied as one step.
   *
   * @returns `{ ok: true, results }`, or `{ ok: false, failed }` when a check failed (nothing applied)
   * @throws {AtomicOpError} the failing op's error (`WRONG_TYPE`, `INDEX_OUT_OF_RANGE`…) with its `index`;
   *   nothing was applied
   * @throws {UnsupportedError} on an engine that cannot apply this batch atomically (the message says why)
   */
  async commit(): Promise<AtomicResult> {
    let reply: unknown;
    try {
      reply = await this.#proxy.request("atomic", "", [this.#steps]);
    } catch (error) {
      const index = /^atomic op (\d+) /.exec((error as Error).message)?.[1];
      if (index !== undefined) (error as AtomicOpError).index = Number(index);
      throw error;
    }
    if (Array.isArray(reply)) return { ok: true, results: reply };
    return { ok: false, failed: (reply as { failed: number }).failed };
  }
}
