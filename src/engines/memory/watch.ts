/**
 * Change feeds of the memory engine: in-process subscriptions to the
 * store's change feed, with the same semantics as over a server.
 *
 * Invariants:
 *
 * - A watch gets every change committed after it was set up, in commit
 *   order: the store calls in synchronously at each commit.
 * - Each change is encoded at commit (a list's items are live objects) and
 *   decoded for each watcher: a value a watcher gets is its own copy.
 * - Nothing is delivered before the journal holds it (as replies are).
 *
 * @module
 */
import type { WatchSink, WatchTarget } from "../../client/watch.ts";
import { ConnectionClosedError, NoSuchTableError } from "../../errors.ts";
import { decode, encode, WRAPPED_DEPTH } from "../../protocol/codec.ts";
import { type ChangeEvent, selectChanges, type WatchFilter } from "../../store/changes.ts";
import type { Store } from "../../store/store.ts";
import { assertKey } from "../../store/values.ts";

interface Watch {
  filter: WatchFilter;
  sink: WatchSink;
  stopped: boolean;
}

/** A delivery waiting for the journal: an encoded event, or the end of a watch. */
interface Pending {
  watch: Watch;
  bytes?: Uint8Array;
  end?: Error;
}

/** The same bytes as a plain `Uint8Array` (the encoder may give a Node `Buffer`; decoded binaries follow it). */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Every watch of one memory engine. */
export class MemoryWatches {
  #store: Store;
  #durable: () => Promise<void> | undefined;
  #watches = new Set<Watch>();
  #unsubscribe: (() => void) | undefined;
  #pending: Pending[] = [];
  #flushing = false;

  /**
   * @param store the tables
   * @param durable resolves once every change committed so far is durable
   */
  constructor(store: Store, durable: () => Promise<void> | undefined) {
    this.#store = store;
    this.#durable = durable;
  }

  /**
   * Starts a watch.
   *
   * @returns stops it
   * @throws {NoSuchTableError} / {@link WrongTypeError} for the table; {@link BadRequestError} for a bad key
   */
  watch(target: WatchTarget, sink: WatchSink): Promise<() => void> {
    try {
      const filter: WatchFilter = {};
      if (target.table !== "") {
        this.#store.get(target.table, target.kind ?? "CyberDict");
        filter.table = target.table;
      }
      if (target.keys !== undefined) {
        for (const key of target.keys) assertKey("watch", key);
        filter.keys = new Set(target.keys);
      }
      const watch: Watch = { filter, sink, stopped: false };
      this.#watches.add(watch);
      this.#unsubscribe ??= this.#store.changes.subscribe((event) => this.#onEvent(event));
      return Promise.resolve(() => {
        watch.stopped = true;
        this.#remove(watch);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Ends every watch with `CONNECTION_CLOSED` (the client closed). */
  close(): void {
    const watches = [...this.#watches];
    for (const watch of watches) this.#remove(watch);
    for (const watch of watches) {
      watch.sink.end(new ConnectionClosedError("the client was closed; open() again, read the table, then watch"));
    }
  }

  #remove(watch: Watch): void {
    this.#watches.delete(watch);
    if (this.#watches.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  #onEvent(event: ChangeEvent): void {
    let lastEvent: unknown, lastBytes: Uint8Array | undefined;
    for (const watch of this.#watches) {
      const selected = selectChanges(event, watch.filter);
      if (selected.event !== undefined) {
        if (selected.event !== lastEvent) {
          lastBytes = plain(encode(selected.event));
          lastEvent = selected.event;
        }
        this.#pending.push({ watch, bytes: lastBytes });
      }
      if (selected.deleted) {
        this.#remove(watch);
        const name = JSON.stringify(watch.filter.table);
        this.#pending.push({ watch, end: new NoSuchTableError(`table ${name} was deleted; watch ended`) });
      }
    }
    if (!this.#flushing && this.#pending.length > 0) {
      this.#flushing = true;
      queueMicrotask(() => void this.#flush());
    }
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const ready = this.#pending;
      this.#pending = [];
      try {
        const durable = this.#durable();
        if (durable) await durable;
      } catch (error) {
        for (const watch of [...this.#watches]) {
          this.#remove(watch);
          watch.sink.end(new ConnectionClosedError(`the journal failed (${(error as Error).message}); watch ended`));
        }
        continue;
      }
      for (const { watch, bytes, end } of ready) {
        if (watch.stopped) continue;
        if (end) watch.sink.end(end);
        else watch.sink.push(decode(bytes!, WRAPPED_DEPTH), bytes!.length);
      }
    }
    this.#flushing = false;
  }
}
