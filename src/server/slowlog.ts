/**
 * The slow log, as Redis's `SLOWLOG`: the last {@link SLOWLOG_LENGTH}
 * requests that took at least the threshold to apply. The request path pays
 * one comparison per request; a request is described (op, table, arguments
 * cut to {@link QUOTE_LIMIT} characters) only once it is found slow, from its
 * frame, so nothing is kept for the requests that are not.
 *
 * @module
 */
import { arrayHead } from "../protocol/array_head.ts";
import { decode } from "../protocol/codec.ts";
import type { SlowlogEntry } from "../protocol/messages.ts";
import { QUOTE_LIMIT } from "../store/values.ts";

/** Entries the slow log keeps; older ones are dropped (Redis's `slowlog-max-len` is 128 too). */
export const SLOWLOG_LENGTH = 128;

/** Milliseconds a request must take to be logged when `slowlogThreshold` is not given (Redis: 10,000 µs). */
export const DEFAULT_SLOWLOG_THRESHOLD = 10;

/** Arguments larger than this, encoded, are shown by their size rather than decoded. */
const DECODED_ARG_LIMIT = 1024;

/** The last {@link SLOWLOG_LENGTH} slow requests. */
export class Slowlog {
  /** Milliseconds from which a request is logged; `Infinity` when the log is off. */
  readonly threshold: number;
  #entries: SlowlogEntry[] = [];
  #next = 1;

  /**
   * Makes an empty slow log.
   *
   * @param threshold milliseconds from which a request is logged; negative turns the log off
   * @throws {RangeError} for a threshold that is not a number
   * @example
   * ```ts
   * import { encode } from "../protocol/codec.ts";
   * import { Slowlog } from "./slowlog.ts";
   * const log = new Slowlog(0);
   * log.add(encode([1, "d.get", "centre", "content"]), 0.2, "127.0.0.1:50000");
   * console.log(log.entries()[0].args); // "content"
   * ```
   */
  constructor(threshold: number) {
    if (typeof threshold !== "number" || Number.isNaN(threshold)) {
      throw new RangeError("slowlogThreshold must be a number of milliseconds (negative: no slow log)");
    }
    this.threshold = threshold < 0 ? Infinity : threshold;
  }

  /**
   * Logs a request found slow.
   *
   * @param frame the request as it arrived, `[id, op, table, ...args]` in MessagePack
   * @param duration milliseconds it took to apply
   * @param client the client's address
   */
  add(frame: Uint8Array, duration: number, client: string): void {
    const { op, table, args } = describeRequest(frame);
    this.#entries.push({ id: this.#next++, at: new Date(), duration, op, table, args, client });
    if (this.#entries.length > SLOWLOG_LENGTH) this.#entries.shift();
  }

  /**
   * The entries, newest first.
   *
   * @returns copies, at most {@link SLOWLOG_LENGTH}
   */
  entries(): SlowlogEntry[] {
    return this.#entries.map((entry) => ({ ...entry })).reverse();
  }
}

/** Items of a request looked at to describe it: more arguments could not fit in {@link QUOTE_LIMIT} characters. */
const DESCRIBED_ITEMS = 3 + QUOTE_LIMIT / 2;

/**
 * The op, table and arguments of a request frame, for a person; never throws. Only the first items are
 * looked at, with bounded work: a refused 15 MiB frame of 16 M items is described in microseconds.
 */
function describeRequest(frame: Uint8Array): { op: string; table: string; args: string } {
  const head = arrayHead(frame, { maxItems: DESCRIBED_ITEMS });
  if (head === undefined || head.offsets.length < 4) return { op: "?", table: "", args: `<${frame.length} bytes>` };
  const { offsets } = head;
  const text = (index: number) => {
    const raw = frame.subarray(offsets[index], offsets[index + 1]);
    if (raw.length > DECODED_ARG_LIMIT) return `<${raw.length} bytes>`;
    try {
      return show(decode(raw));
    } catch {
      return "?";
    }
  };
  const item = (index: number) => {
    try {
      return decode(frame.subarray(offsets[index], offsets[index + 1]));
    } catch {
      return undefined;
    }
  };
  const op = item(1), table = item(2);
  const parts: string[] = [];
  let length = 0;
  for (let index = 3; index < offsets.length - 1 && length <= QUOTE_LIMIT; index++) {
    const part = text(index);
    parts.push(part);
    length += part.length + 1;
  }
  if (offsets.length - 1 < head.length && length <= QUOTE_LIMIT) parts.push("…");
  return {
    op: typeof op === "string" ? op.slice(0, 32) : "?",
    table: typeof table === "string" ? cut(table) : show(table),
    args: cut(parts.join(" ")),
  };
}

function cut(text: string): string {
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text;
}

/** A value as JSON, with bigints as `12n`, bytes by their length and Dates as ISO text; cut deep down. */
function show(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, item) => {
      if (typeof item === "bigint") return `${item}n`;
      if (item instanceof Uint8Array) return `<${item.length} bytes>`;
      if (item instanceof Map) return Object.fromEntries(item);
      return item;
    }) ?? String(value);
  } catch {
    return "?";
  }
}
