/**
 * One request applied to the store, with no socket in sight: the server's
 * sessions and the in-process (memory) engine both call {@link applyRequest},
 * so an op added to the store's op table works on both, validated the same
 * way and journaled the same way.
 *
 * A request is a MessagePack frame `[id, op, table, ...args]` — exactly what
 * arrives over the network and what the journal records. The outcome is the
 * reply's value (still to be encoded by the caller) or a `CyberDBError`.
 *
 * @module
 */
import { BadRequestError, CyberDBError, JournalCorruptError, OutOfMemoryError, UnsupportedError } from "../errors.ts";
import { decode, decodeChecked, encodeArray, Encoded, LazyArray, WRAPPED_DEPTH } from "../protocol/codec.ts";
import { ARRAY, checkMessagePack, EXT, MAX_DEPTH, newHeader, readHeader } from "../protocol/msgpack_scan.ts";
import { decodeSmall } from "../protocol/small_messages.ts";
import type { InfoOptions, ServerInfo, SessionOp } from "../protocol/messages.ts";
import type { Journal } from "./journal.ts";
import { opWrites, type Store } from "./store.ts";

/** What a request is applied to. */
export interface RequestTarget {
  /** The tables. */
  store: Store;
  /** The journal changes are appended to, if journaling. */
  journal(): Journal | undefined;
  /** The answer to `info` (with the sections asked for); without it, `info` is refused with `UNSUPPORTED`. */
  info?(options: InfoOptions): ServerInfo;
  /** The engine's name, for the `UNSUPPORTED` message. */
  engine: string;
  /**
   * Why writes are refused for memory now (`--max-memory`), or `undefined` when they are not; ops that
   * only free memory (delete, pop, clear, drop, …) are applied anyway.
   */
  memoryRefusal?(): string | undefined;
  /** `watch`: starts a watch under the request's id (a session's); without it, refused with `UNSUPPORTED`. */
  watch?(id: number, table: unknown, args: unknown[]): void;
  /** `unwatch`: ends the watch of that id; resolves to whether there was one. */
  unwatch?(id: unknown): boolean;
}

/** The outcome of {@link applyRequest}. */
export type Applied =
  | {
    /** The request's id (0 when it could not be read). */
    id: number;
    /** The op applied. */
    op: string;
    /** The reply's value; `undefined` for ops that return nothing. */
    result: unknown;
    /** The journal the change was appended to: commit it before replying. */
    wrote?: Journal;
    error?: undefined;
  }
  | {
    /** The request's id (0 when it could not be read). */
    id: number;
    /** Why it failed; nothing was changed. */
    error: CyberDBError;
    /** The unexpected error behind a `BAD_REQUEST` that the caller should log, if any. */
    internal?: Error;
  };

/**
 * Decodes one request frame, applies it to the store and appends it to the
 * journal if it changed anything. Never throws.
 *
 * @param target the store, its journal and its `info`
 * @param frame the request, `[id, op, table, ...args]` in MessagePack
 * @returns the reply's value and the journal to commit, or the error
 * @example
 * ```ts
 * import { encode } from "../protocol/codec.ts";
 * import { applyRequest } from "./request.ts";
 * import { Store } from "./store.ts";
 * const target = { store: new Store(), journal: () => undefined, engine: "memory" };
 * applyRequest(target, encode([1, "create", "centre", "CyberDict"]));
 * console.log(applyRequest(target, encode([2, "tables", ""])).result); // [ { name: "centre", type: "CyberDict" } ]
 * ```
 */
export function applyRequest(target: RequestTarget, frame: Uint8Array): Applied {
  const seen = { id: 0 };
  let id = 0;
  try {
    const request = decodeRequest(frame, target.store, seen);
    if (!Array.isArray(request) || request.length < 3 || !Number.isSafeInteger(request[0])) {
      throw new BadRequestError("a request must be [id, op, table, ...args]");
    }
    id = request[0];
    const [, op, table] = request;
    const journal = target.journal();
    const writes = opWrites(op);
    if (journal?.failure && writes) {
      throw new JournalCorruptError(
        `${journal.failure.message}; changes are refused until the ${
          target.engine === "memory" ? "store is opened again" : "server is restarted"
        } (reads still work)`,
      );
    }
    if (writes && !FREES.has(op)) {
      const full = target.memoryRefusal?.();
      if (full !== undefined) throw new OutOfMemoryError(full);
    }
    let result: unknown, journaled = frame;
    const args = request.slice(3);
    if (isSessionOp(op)) {
      result = applySessionOp(target, op, id, table, request);
    } else if (target.store.dependsOnClock(op, table, args)) {
      // Journaled with the time it is applied at, so a replay expires exactly what this did.
      const time = Date.now();
      result = target.store.applyAt(time, op, table, args);
      journaled = encodeArray([0, "timed", "", time, new Encoded(frame)]);
    } else {
      result = target.store.apply(op, table, args);
    }
    if (journal && writes) {
      journal.append(journaled);
      return { id, op, result, wrote: journal };
    }
    return { id, op, result };
  } catch (error) {
    id ||= seen.id;
    if (error instanceof CyberDBError) return { id, error };
    return {
      id,
      error: new BadRequestError(`the server failed on this request: ${(error as Error).message}`),
      internal: error as Error,
    };
  }
}

function isSessionOp(op: unknown): op is SessionOp {
  return op === "info" || op === "watch" || op === "unwatch";
}

/** Answers an op of the server or the connection, which the store knows nothing of; none of them writes. */
function applySessionOp(target: RequestTarget, op: SessionOp, id: number, table: unknown, request: unknown[]): unknown {
  if (op === "info") {
    if (!target.info) throw new UnsupportedError(`info is not supported by the ${target.engine} engine`);
    return target.info(infoOptions(request[3]));
  }
  if (!target.watch || !target.unwatch) {
    throw new UnsupportedError(`${op} is not supported over this ${target.engine} engine's requests`);
  }
  return op === "watch" ? target.watch(id, table, request.slice(3)) : target.unwatch(request[3]);
}

/** The sections an `info` request asks for: `[id, "info", "", { slowlog?, clients? }]`, the map optional. */
function infoOptions(options: unknown): InfoOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new BadRequestError("info takes { slowlog?: boolean, clients?: boolean }");
  }
  const { slowlog, clients } = options as Record<string, unknown>;
  return { slowlog: slowlog === true, clients: clients === true };
}

/** The writes that only take memory back, applied even past `--max-memory` (as Redis lets DEL through). */
const FREES: ReadonlySet<unknown> = new Set([
  "drop",
  "d.delete",
  "d.clear",
  "d.pop",
  "d.popItem",
  "d.persist",
  "l.pop",
  "l.shift",
  "l.remove",
  "l.clear",
]);

/** Frames from this size on are looked at item by item before being decoded. */
const LAZY_FRAME = 64 * 1024;

/**
 * Most values one request may decode to at once (every scalar, array, map and
 * extension counts one): decoding costs tens of bytes a value, so a 15 MiB frame
 * of 16 M empty maps would take about 1 GB. A large `d.update` is decoded entry
 * by entry, and does not count against it.
 */
export const MAX_REQUEST_VALUES = 2_000_000;

/**
 * Decodes a request; the entries of a large `d.update` are left to be decoded
 * one at a time as they are applied. A large request names its table first:
 * that the table exists, and is of the op's kind, is checked before the
 * arguments are decoded, and then that they fit {@link MAX_REQUEST_VALUES}.
 */
function decodeRequest(frame: Uint8Array, store: Store, seen: { id: number }): unknown {
  if (frame.length < LAZY_FRAME) return decodeSmall(frame) ?? decode(frame);
  const [id, op, table] = peekHead(frame);
  if (Number.isSafeInteger(id)) seen.id = id as number;
  if (typeof table === "string" && typeof op === "string" && (op.startsWith("d.") || op.startsWith("l."))) {
    store.get(table, op.startsWith("d.") ? "CyberDict" : "CyberList");
  }
  if (op === "d.update") {
    const items = LazyArray.of(frame);
    if (items !== undefined && (items.length === 4 || items.length === 5)) {
      const request = [id, op, items.at(2), items.lazyAt(3) ?? items.at(3)];
      return items.length === 5 ? [...request, items.at(4)] : request;
    }
  }
  try {
    checkMessagePack(frame, MAX_DEPTH, 0, MAX_REQUEST_VALUES); // stops at the first value over the budget
  } catch (error) {
    if (error instanceof BadRequestError && /values; send it in parts/.test(error.message)) {
      throw new BadRequestError(
        `this ${typeof op === "string" ? op.slice(0, 32) : "request"} decodes to over ${MAX_REQUEST_VALUES} ` +
          `values, the limit for one request; send it in parts`,
      );
    }
    throw error;
  }
  return decodeChecked(frame);
}

/**
 * Decodes a journal record within the budgets its request was held to when it
 * came in ({@link MAX_REQUEST_VALUES}, a large `d.update` entry by entry), so a
 * crafted journal cannot decode to more than a request could: a request frame,
 * or a `timed` record `[0, "timed", "", time, request]` wrapping one.
 *
 * @param frame the record's payload
 * @param store the tables replayed into (a large request's table is looked up first, as it was)
 * @returns the request, `[id, op, table, ...args]`
 * @throws {BadRequestError} for a record that does not decode within the budgets
 * @throws {CyberDBError} `NO_SUCH_TABLE` or `WRONG_TYPE` for a large request on a table that is not there
 * @example
 * ```ts
 * import { encode } from "../protocol/codec.ts";
 * import { decodeJournalRecord } from "./request.ts";
 * import { Store } from "./store.ts";
 * console.log(decodeJournalRecord(encode([1, "create", "t", "CyberDict"]), new Store())); // [ 1, "create", "t", "CyberDict" ]
 * ```
 */
export function decodeJournalRecord(frame: Uint8Array, store: Store): unknown[] {
  let request: unknown;
  if (frame.length < LAZY_FRAME) {
    request = decode(frame, WRAPPED_DEPTH); // a value takes a byte at least: well within the budget
  } else if (peekHead(frame)[1] === "timed") {
    const items = LazyArray.of(frame, WRAPPED_DEPTH); // a scan: time, no memory
    if (items === undefined || items.length !== 5) throw new BadRequestError("a timed record must have 5 items");
    request = [items.at(0), "timed", items.at(2), items.at(3), decodeRequest(items.raw(4), store, { id: 0 })];
  } else {
    request = decodeRequest(frame, store, { id: 0 });
  }
  if (!Array.isArray(request) || request.length < 3) throw new BadRequestError("a record must be a request");
  return request;
}

/**
 * The id, op and table of a request not yet checked, when they come first
 * and are small; `undefined` for any that are not (the full check refuses
 * the request then, as usual).
 */
function peekHead(frame: Uint8Array): unknown[] {
  const heads: unknown[] = [];
  try {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const header = newHeader();
    readHeader(frame, view, 0, header);
    if (header.kind !== ARRAY) return heads;
    const count = Math.min(3, header.items);
    for (let i = 0, pos = header.size; i < count; i++) {
      readHeader(frame, view, pos, header);
      if (header.items > 0 || header.kind === EXT) return heads; // only scalars: the table name is a string
      const end = pos + header.size + header.length;
      if (end - pos > 1024 || end > frame.length) return heads;
      heads.push(decode(frame.subarray(pos, end)));
      pos = end;
    }
  } catch {
    // malformed: the full check says how
  }
  return heads;
}
