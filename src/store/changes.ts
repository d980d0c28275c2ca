/**
 * Change events: what the store tells its watchers after each write.
 *
 * Invariants:
 *
 * - The store emits after a write has been applied, synchronously, before
 *   the op returns; so listeners see changes in commit order, and a request
 *   that fails (having changed nothing) emits nothing.
 * - One event per change, or one event for a whole {@link ChangeFeed.batch}
 *   (an atomic batch): listeners never see part of a batch.
 * - A listener gets the values as the store has them (a list's items are the
 *   stored objects): it must not change them, and must copy (encode) what it
 *   keeps before returning. A listener must not throw or apply requests.
 *
 * @module
 */
import type { TableKind } from "../protocol/messages.ts";
import type { Key } from "./values.ts";

/**
 * A change to a CyberDict.
 *
 * - `set`: `set`, `setDefault` of a missing key, each entry of `update`, `increment` (the new number)
 * - `delete`: `delete`, `pop` and `popItem` of a present key; `expired: true` when an expiry removed it
 * - `clear`: `clear` of a non-empty dict
 */
export type DictChange =
  | { op: "set"; key: Key; value: unknown }
  | { op: "delete"; key: Key; expired?: true }
  | { op: "clear" };

/**
 * A change to a CyberList.
 *
 * - `push`: `push` of one or more values (appended at the end)
 * - `pop`: `pop()` of the last item, or `pop(i)` where `i` is the last index
 * - `set`: `set(i, value)`; `index` counts from 0 (a negative index is resolved)
 * - `replace`: any other change (`shift`, `unshift`, `insert`, `remove`, `splice`, `reverse`,
 *   `sort`, `clear`, `pop(i)` of another item): read the list again to know its items
 */
export type ListChange =
  | { op: "push"; values: unknown[] }
  | { op: "pop" }
  | { op: "set"; index: number; value: unknown }
  | { op: "replace" };

/** A table created or deleted (`deleteTable`, or replaced by loading a snapshot). */
export type TableChange =
  | { op: "createTable"; type: TableKind }
  | { op: "deleteTable" };

/** One change, with the name of the table it happened to. */
export type StoreChange = (DictChange | ListChange | TableChange) & { table: string };

/** Several changes committed together: listeners get them as one event. */
export interface BatchChange {
  /** Marks a batch. */
  op: "batch";
  /** The changes, in the order they were applied. */
  changes: StoreChange[];
}

/** What a listener receives: one change, or one batch. */
export type ChangeEvent = StoreChange | BatchChange;

/** Called with each event, synchronously, in commit order. */
export type ChangeListener = (event: ChangeEvent) => void;

/**
 * The store's change feed: writers {@link emit} (or group changes in a
 * {@link batch}), watchers {@link subscribe}.
 *
 * @example
 * ```ts
 * import { ChangeFeed } from "./changes.ts";
 * const feed = new ChangeFeed();
 * const stop = feed.subscribe((event) => console.log(event));
 * feed.emit({ table: "t", op: "set", key: "a", value: 1 }); // { table: "t", op: "set", key: "a", value: 1 }
 * feed.batch(() => {
 *   feed.emit({ table: "t", op: "delete", key: "a" });
 *   feed.emit({ table: "t", op: "set", key: "b", value: 2 });
 * }); // one event: { op: "batch", changes: [ …both… ] }
 * stop();
 * ```
 */
export class ChangeFeed {
  #listeners: ChangeListener[] = [];
  #batch: StoreChange[] | undefined;

  /** Whether anyone listens: writers may skip building a change when not. */
  get watched(): boolean {
    return this.#listeners.length > 0;
  }

  /**
   * Tells every listener about one applied change (or adds it to the batch
   * under way).
   *
   * @param change the change, after it was applied
   */
  emit(change: StoreChange): void {
    if (this.#listeners.length === 0) return;
    if (this.#batch !== undefined) this.#batch.push(change);
    else this.#deliver(change);
  }

  /**
   * Runs `apply` and delivers the changes it emits as one event once it
   * returns: a `batch` event for several, the change itself for one, nothing
   * for none. If `apply` throws, its changes are dropped (the caller undoes
   * them) and the error goes on. A batch inside a batch joins the outer one.
   *
   * @param apply applies the changes
   * @returns what `apply` returns
   * @throws whatever `apply` throws
   */
  batch<T>(apply: () => T): T {
    if (this.#batch !== undefined) return apply();
    const changes: StoreChange[] = [];
    this.#batch = changes;
    let result: T;
    try {
      result = apply();
    } finally {
      this.#batch = undefined;
    }
    if (changes.length === 1) this.#deliver(changes[0]);
    else if (changes.length > 1) this.#deliver({ op: "batch", changes });
    return result;
  }

  /**
   * Calls `listener` with every event from now on.
   *
   * @param listener called synchronously after each commit
   * @returns a function that stops the calls (idempotent)
   */
  subscribe(listener: ChangeListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry: ChangeListener = (event) => listener(event);
    this.#listeners = [...this.#listeners, entry];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== entry);
    };
  }

  #deliver(event: ChangeEvent): void {
    // The array is replaced, never changed, on (un)subscribe: a listener that unsubscribes
    // during delivery does not make another miss this event.
    for (const listener of this.#listeners) listener(event);
  }
}

/** A change as the watcher of one table sees it: without the table's name. */
export type Unnamed<C> = C extends { table: string } ? Omit<C, "table"> : never;

/** What one watch selects: one table (and maybe some of its keys), or the whole store. */
export interface WatchFilter {
  /** The table watched; `undefined` for the whole store. */
  table?: string;
  /** Only these keys of a dict (its `clear` always passes); `undefined` for all. */
  keys?: ReadonlySet<string | number>;
}

/** What {@link selectChanges} found in an event for one watch. */
export interface Selected {
  /** What the watch gets: a change, or a `batch` of them; `undefined` when nothing concerns it. */
  event?: unknown;
  /** Set when the watched table was deleted: the watch ends after `event`. */
  deleted?: true;
}

// The last change stripped of its table name, so that the watchers of one table share one object
// (and the server one encoding of it).
let lastNamed: StoreChange | undefined;
let lastUnnamed: unknown;

function unnamed(change: StoreChange): unknown {
  if (change !== lastNamed) {
    const { table: _, ...rest } = change;
    lastNamed = change;
    lastUnnamed = rest;
  }
  return lastUnnamed;
}

function concerns(change: StoreChange, filter: WatchFilter): boolean {
  if (change.table !== filter.table) return false;
  if (filter.keys === undefined || !("key" in change)) return true;
  return filter.keys.has(change.key as string | number);
}

/**
 * Picks out of one event what a watch gets: the whole event for a store
 * watch; for a table watch, the changes to that table (and keys) without the
 * table's name, as one change or one `batch`.
 *
 * @param event the event, as the store delivered it
 * @param filter what the watch selects
 * @returns what to deliver, and whether the table was deleted
 * @example
 * ```ts
 * import { selectChanges } from "./changes.ts";
 * const event = { table: "t", op: "set" as const, key: "a", value: 1 };
 * console.log(selectChanges(event, { table: "t" })); // { event: { op: "set", key: "a", value: 1 } }
 * console.log(selectChanges(event, { table: "t", keys: new Set(["b"]) })); // {}
 * ```
 */
export function selectChanges(event: ChangeEvent, filter: WatchFilter): Selected {
  if (filter.table === undefined) return { event };
  if (event.op !== "batch") {
    if (!concerns(event, filter)) return {};
    return event.op === "deleteTable" ? { deleted: true } : { event: unnamed(event) };
  }
  const changes: unknown[] = [];
  for (const change of event.changes) {
    if (!concerns(change, filter)) continue;
    if (change.op === "deleteTable") {
      return changes.length === 0 ? { deleted: true } : { event: batchOf(changes), deleted: true };
    }
    changes.push(unnamed(change));
  }
  return changes.length === 0 ? {} : { event: batchOf(changes) };
}

function batchOf(changes: unknown[]): unknown {
  return changes.length === 1 ? changes[0] : { op: "batch", changes };
}
