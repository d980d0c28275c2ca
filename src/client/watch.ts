/**
 * Change feeds on the client: what `watch()` returns, engine-agnostic. An
 * engine pushes events into a {@link ChangeStream} (its {@link WatchSink});
 * the application pulls them with `for await`.
 *
 * The stream's queue is bounded: a consumer that falls more than `buffer`
 * bytes behind is ended with `SLOW_CONSUMER` (its queue dropped), so a
 * watcher that stops reading never grows the client's memory either.
 *
 * @module
 */
import { SlowConsumerError } from "../errors.ts";
import type { Key, TableKind } from "../protocol/messages.ts";

/** Default most bytes of changes a stream holds for a slow reader: 8 MiB. */
export const DEFAULT_STREAM_BUFFER = 8 * 1024 * 1024;

/** Options of `watch()`. */
export interface WatchOptions {
  /** Most bytes of changes held for this watcher while it is not reading before it ends with `SLOW_CONSUMER`. Default 8 MiB. */
  buffer?: number;
}

/** Options of `CyberDict.watch()`. */
export interface DictWatchOptions extends WatchOptions {
  /** Only changes to these keys (and `clear`). */
  keys?: Iterable<Key>;
}

/**
 * A change to a CyberDict, as `dict.watch()` delivers it:
 *
 * - `set`: `set`, `setDefault` of a missing key, each entry of `update`, `increment` (the new number)
 * - `delete`: `delete`, `pop`, `popItem` of a present key; `expired: true` when its expiry removed it
 * - `clear`: `clear` of a non-empty dict
 */
export type DictChange<V = unknown> =
  | { op: "set"; key: Key; value: V }
  | { op: "delete"; key: Key; expired?: true }
  | { op: "clear" };

/**
 * A change to a CyberList, as `list.watch()` delivers it:
 *
 * - `push`: `push(...values)`, appended at the end
 * - `pop`: `pop()` of the last item (or `pop(i)` of the last index)
 * - `set`: `set(i, value)`, with `index` counted from 0
 * - `replace`: anything else that changes the list (`shift`, `unshift`, `insert`, `remove`,
 *   `splice`, `reverse`, `sort`, `clear`, `pop(i)` of another item): read it again (`toArray()`)
 */
export type ListChange<T = unknown> =
  | { op: "push"; values: T[] }
  | { op: "pop" }
  | { op: "set"; index: number; value: T }
  | { op: "replace" };

/** A change anywhere in the store, as `proxy.watch()` delivers it: with its table's name. */
export type StoreChange =
  & (
    | DictChange
    | ListChange
    | { op: "createTable"; type: TableKind }
    | { op: "deleteTable" }
  )
  & { table: string };

/** What a watch asks its engine for. */
export interface WatchTarget {
  /** The table, or `""` for the whole store (tables created and deleted included). */
  table: string;
  /** The table's kind, checked as `getCyberDict` / `getCyberList` do; absent for the whole store. */
  kind?: TableKind;
  /** Only changes to these keys of a dict (and `clear`). */
  keys?: Key[];
}

/** Where an engine delivers a watch's events. */
export interface WatchSink {
  /**
   * One event (a change or a `batch`), owned by the receiver.
   *
   * @param event the change
   * @param size about how many bytes it takes (its encoded size), for the bound
   */
  push(event: unknown, size: number): void;
  /** The feed ended (`SLOW_CONSUMER`, `CONNECTION_CLOSED`, `NO_SUCH_TABLE` when the table was deleted…). */
  end(error: Error): void;
}

/** Several changes committed together (an atomic batch), delivered as one event. */
export interface Batch<C> {
  /** Marks a batch. */
  op: "batch";
  /** Its changes, in the order they were applied. */
  changes: C[];
}

/**
 * The changes of one watch, in commit order. Iterate it with `for await`;
 * leaving the loop (or calling `return()`) stops the watch.
 *
 * @typeParam C the change type
 */
export class ChangeStream<C> implements AsyncIterableIterator<C>, WatchSink {
  #queue: { event: C; size: number }[] = [];
  #head = 0;
  #bytes = 0;
  #limit: number;
  #waiter: { resolve(result: IteratorResult<C>): void; reject(error: Error): void } | undefined;
  #error: Error | undefined;
  #done = false;
  #stop: () => void = () => {};

  /**
   * Makes an empty stream.
   *
   * @param limit most bytes held for a slow reader
   */
  constructor(limit: number = DEFAULT_STREAM_BUFFER) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError("watch: buffer must be a whole number of bytes ≥ 1");
    }
    this.#limit = limit;
  }

  /** Sets what stops the watch at its engine; called by the engine once subscribed. */
  set unsubscribe(stop: () => void) {
    this.#stop = stop;
    if (this.#done || this.#error) stop();
  }

  /** Whether the stream has ended (stopped, or with an error). */
  get ended(): boolean {
    return this.#done || this.#error !== undefined;
  }

  /** Queues one event of `size` bytes, or hands it to a waiting reader; ends the stream with `SLOW_CONSUMER` past the limit. */
  push(event: unknown, size: number): void {
    if (this.ended) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve({ value: event as C, done: false });
      return;
    }
    this.#queue.push({ event: event as C, size });
    this.#bytes += size;
    if (this.#bytes > this.#limit) {
      this.#queue = [];
      this.#head = 0;
      this.#bytes = 0;
      this.end(
        new SlowConsumerError(
          `over ${this.#limit} bytes of changes were waiting for this watcher, which read too slowly; ` +
            `read the table again, then watch again (read faster, or pass a larger buffer)`,
        ),
      );
    }
  }

  /** Ends the stream with `error`: the reader gets it once the queued events are read. */
  end(error: Error): void {
    if (this.ended) return;
    this.#error = error;
    this.#stop();
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      this.#done = true;
      waiter.reject(error);
    }
  }

  /**
   * The next change; waits for one.
   *
   * @returns the next change, or `done` once stopped
   * @throws {CyberDBError} how the feed ended: `SLOW_CONSUMER`, `CONNECTION_CLOSED`, `NO_SUCH_TABLE`
   *   (the table was deleted); changes that arrived before a dropped connection come first
   */
  next(): Promise<IteratorResult<C>> {
    if (this.#head < this.#queue.length) {
      const { event, size } = this.#queue[this.#head++];
      this.#bytes -= size;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#error) {
      this.#done = true;
      return Promise.reject(this.#error);
    }
    if (this.#waiter) return Promise.reject(new Error("watch: next() called again before the last one settled"));
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /**
   * Stops the watch (what `break` in a `for await` calls).
   *
   * @returns `done`
   */
  return(): Promise<IteratorResult<C>> {
    if (!this.#done) {
      this.#done = true;
      this.#queue = [];
      this.#head = 0;
      if (!this.#error) this.#stop();
      this.#waiter?.resolve({ value: undefined, done: true });
      this.#waiter = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stops the watch, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => {});
  }

  /**
   * The stream is its own iterator.
   *
   * @returns this stream
   */
  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * What `watch()` returns: a promise of the stream that resolves once the
 * watch is in place (every change committed after that is delivered), and
 * that can also be iterated directly: `for await (const c of dict.watch())`.
 */
export type WatchPromise<C> = Promise<ChangeStream<C>> & AsyncIterable<C>;

/**
 * Wraps a pending subscription as a {@link WatchPromise}.
 *
 * @param subscribing resolves to the stream once subscribed
 * @returns the promise, iterable too
 */
export function watchPromise<C>(subscribing: Promise<ChangeStream<C>>): WatchPromise<C> {
  subscribing.catch(() => {}); // a watch nobody awaits must not be an unhandled rejection
  return Object.assign(subscribing, {
    [Symbol.asyncIterator](): AsyncIterator<C> {
      let stream: ChangeStream<C> | undefined;
      return {
        async next() {
          stream ??= await subscribing;
          return stream.next();
        },
        async return() {
          stream ??= await subscribing;
          return stream.return();
        },
      };
    },
  });
}
