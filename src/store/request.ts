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
import { BadRequestError, CyberDBError, JournalCorruptError, UnsupportedError } from "../errors.ts";
import { decode, encodeArray, Encoded, LazyArray } from "../protocol/codec.ts";
import type { ServerInfo, SessionOp } from "../protocol/messages.ts";
import type { Journal } from "./journal.ts";
import { opWrites, type Store } from "./store.ts";

/** What a request is applied to. */
export interface RequestTarget {
  /** The tables. */
  store: Store;
  /** The journal changes are appended to, if journaling. */
  journal(): Journal | undefined;
  /** The answer to `info`; without it, `info` is refused with `UNSUPPORTED`. */
  info?(): ServerInfo;
  /** The engine's name, for the `UNSUPPORTED` message. */
  engine: string;
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
  let id = 0;
  try {
    const request = decodeRequest(frame);
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
    return target.info();
  }
  if (!target.watch || !target.unwatch) {
    throw new UnsupportedError(`${op} is not supported over this ${target.engine} engine's requests`);
  }
  return op === "watch" ? target.watch(id, table, request.slice(3)) : target.unwatch(request[3]);
}

/** Frames from this size on are looked at item by item before being decoded. */
const LAZY_FRAME = 64 * 1024;

/**
 * Decodes a request; the entries of a large `d.update` are left to be decoded
 * one at a time as they are applied.
 */
function decodeRequest(frame: Uint8Array): unknown {
  if (frame.length < LAZY_FRAME) return decode(frame);
  const items = LazyArray.of(frame);
  if (items === undefined) return decode(frame); // not an array: refused with the usual message
  if ((items.length !== 4 && items.length !== 5) || items.at(1) !== "d.update") return items.all();
  const request = [items.at(0), items.at(1), items.at(2), items.lazyAt(3) ?? items.at(3)];
  return items.length === 5 ? [...request, items.at(4)] : request;
}
