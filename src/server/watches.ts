/**
 * The watches of one session: change events pushed to the client over its
 * own connection, `[id, WATCH_EVENT, change]`, between its replies.
 *
 * Invariants:
 *
 * - A watch gets every change committed after its `watch` request was
 *   applied, in commit order: the store calls in synchronously at each
 *   commit, and frames go out in the order they were queued.
 * - Nothing is sent before the journal holds it (the same rule as replies).
 * - The events of one watch queued in one turn leave as one frame
 *   `[id, WATCH_EVENT, event, event, …]` (cut at {@link EVENT_FRAME_TARGET} bytes): one
 *   encoding and one decode for many small changes.
 * - Memory is bounded: once the frames waiting for this connection (events
 *   not yet handed to the channel plus the channel's unwritten bytes) pass
 *   the watch buffer, every watch of the session ends with `SLOW_CONSUMER`
 *   and its waiting events are dropped; the connection itself stays open
 *   and its requests are served as before.
 *
 * @module
 */
import { BadRequestError, type ErrorCode, SlowConsumerError } from "../errors.ts";
import type { Channel } from "../protocol/channel.ts";
import { encode, encodeArray, Encoded } from "../protocol/codec.ts";
import { type TableKind, WATCH_END, WATCH_EVENT } from "../protocol/messages.ts";
import { type ChangeEvent, selectChanges, type WatchFilter } from "../store/changes.ts";
import type { Store } from "../store/store.ts";
import { assertKey, quote } from "../store/values.ts";

/** Default bound of the events queued for one connection: 8 MiB, as Redis's pubsub output buffer. */
export const DEFAULT_WATCH_BUFFER = 8 * 1024 * 1024;

/** Bytes of events after which a frame is cut and the next one begun. */
export const EVENT_FRAME_TARGET = 256 * 1024;

// The last event encoded, so the watchers of one change share one encoding.
let lastEvent: unknown;
let lastBytes: Uint8Array = new Uint8Array();

function encoded(event: unknown): Encoded {
  if (event !== lastEvent) {
    lastBytes = encode(event);
    lastEvent = event;
  }
  return new Encoded(lastBytes);
}

/** What a session's watches need from it. */
export interface WatchContext {
  /** The tables. */
  store: Store;
  /** The connection events go out on. */
  channel: Channel;
  /** Most bytes of events waiting for this connection before its watches end with `SLOW_CONSUMER`. */
  watchBuffer: number;
  /** Resolves once every change committed so far is durable (`undefined`: already is). */
  durable(): Promise<void> | undefined;
  /** Writes a log line. */
  log(message: string): void;
}

/** The watches opened on one connection. */
export class SessionWatches {
  #context: WatchContext;
  #watches = new Map<number, WatchFilter>();
  #unsubscribe: (() => void) | undefined;
  /** The events of this turn, per watch, in the order the watches first got one. */
  #events = new Map<number, Encoded[]>();
  #ends: Uint8Array[] = [];
  #bytes = 0;
  #flushing = false;

  /** @param context the session's store, channel and limits */
  constructor(context: WatchContext) {
    this.#context = context;
  }

  /**
   * `watch`: starts a watch under the request's id.
   *
   * @param id the `watch` request's id; events carry it
   * @param table the table, or `""` for the whole store
   * @param args the request's arguments: `[spec?]`
   * @throws {BadRequestError} for a malformed spec or a reused id
   * @throws {NoSuchTableError} for a missing table, {@link WrongTypeError} for the wrong kind
   */
  add(id: number, table: unknown, args: unknown[]): void {
    const spec = (args[0] ?? {}) as { kind?: unknown; keys?: unknown };
    if (args.length > 1 || typeof spec !== "object" || Array.isArray(spec) || typeof table !== "string") {
      throw new BadRequestError('watch: expected [id, "watch", table, { kind?, keys? }]');
    }
    if (this.#watches.has(id)) throw new BadRequestError(`watch: request id ${id} already has a watch`);
    const filter: WatchFilter = {};
    if (table !== "") {
      if (spec.kind !== "CyberDict" && spec.kind !== "CyberList") {
        throw new BadRequestError('watch: a table watch needs kind "CyberDict" or "CyberList"');
      }
      this.#context.store.get(table, spec.kind as TableKind);
      filter.table = table;
    }
    if (spec.keys !== undefined) {
      if (!Array.isArray(spec.keys) || spec.kind !== "CyberDict") {
        throw new BadRequestError("watch: keys must be an array of keys, on a CyberDict");
      }
      for (const key of spec.keys) assertKey("watch", key);
      filter.keys = new Set(spec.keys);
    }
    this.#watches.set(id, filter);
    this.#unsubscribe ??= this.#context.store.changes.subscribe((event) => this.#onEvent(event));
  }

  /**
   * `unwatch`: ends a watch; events already queued for it may still arrive.
   *
   * @returns whether it was watching
   */
  remove(id: unknown): boolean {
    const removed = this.#watches.delete(id as number);
    if (this.#watches.size === 0) this.close();
    return removed;
  }

  /** Ends every watch without telling the client (the connection is closing). */
  close(): void {
    this.#watches.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #onEvent(event: ChangeEvent): void {
    for (const [id, filter] of this.#watches) {
      const selected = selectChanges(event, filter);
      if (selected.event !== undefined) {
        const event = encoded(selected.event);
        const queued = this.#events.get(id);
        if (queued) queued.push(event);
        else this.#events.set(id, [event]);
        this.#bytes += event.bytes.length + 1;
      }
      if (selected.deleted) {
        this.#watches.delete(id);
        this.#end(id, "NO_SUCH_TABLE", `table ${quote(filter.table)} was deleted; watch ended`);
      }
    }
    if (this.#bytes + this.#context.channel.queuedBytes > this.#context.watchBuffer) this.#slow();
    if (this.#watches.size === 0) this.close();
    this.#schedule();
  }

  #slow(): void {
    const limit = this.#context.watchBuffer;
    this.#context.log(`a watcher is not reading its changes (over ${limit} bytes queued); ending its watches`);
    this.#events = new Map();
    this.#bytes = 0;
    const error = new SlowConsumerError(
      `over ${limit} bytes of changes were waiting for this watcher, which read too slowly; ` +
        `read the table again, then watch again (and read changes faster, or raise --watch-buffer)`,
    );
    for (const id of this.#watches.keys()) this.#end(id, error.code, error.message);
    this.#watches.clear();
  }

  #end(id: number, code: ErrorCode, message: string): void {
    this.#ends.push(encode([id, WATCH_END, code, message]));
  }

  #schedule(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    const channel = this.#context.channel;
    while (this.#events.size > 0 || this.#ends.length > 0) {
      const events = this.#events, ends = this.#ends;
      this.#events = new Map();
      this.#ends = [];
      this.#bytes = 0;
      try {
        const durable = this.#context.durable();
        if (durable) await durable;
      } catch (error) {
        // Not durable: not sent. The watches end; the session's own replies report the journal.
        this.#events = new Map();
        for (const id of this.#watches.keys()) {
          this.#end(id, "JOURNAL_CORRUPT", `the journal failed (${(error as Error).message}); watch ended`);
        }
        this.close();
        for (const frame of [...ends, ...this.#ends]) channel.send(frame);
        this.#ends = [];
        break;
      }
      for (const [id, queued] of events) {
        for (let start = 0; start < queued.length;) {
          let end = start, size = 0;
          while (end < queued.length && (end === start || size < EVENT_FRAME_TARGET)) {
            size += queued[end++].bytes.length;
          }
          channel.send(encodeArray([id, WATCH_EVENT, ...queued.slice(start, end)]));
          start = end;
        }
      }
      for (const frame of ends) channel.send(frame);
    }
    this.#flushing = false;
  }
}
