/**
 * The CyberList half of the op table: how each `l.*` request is checked,
 * applied to a {@link ListTable}, and reported to watchers.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import type { ListChange } from "./changes.ts";
import type { ListTable } from "./list_table.ts";
import type { OpSpec } from "./op_spec.ts";
import { assertInteger } from "./values.ts";

function listOp(
  arity: [number, number],
  writes: boolean,
  run: OpSpec<ListTable>["run"],
): OpSpec<ListTable> {
  return { kind: "CyberList", arity, writes, run };
}

function index(op: string, value: unknown, name = "index"): number {
  assertInteger(op, name, value);
  return value;
}

function optionalIndex(
  op: string,
  value: unknown,
  name: string,
): number | undefined {
  return value === undefined ? undefined : index(op, value, name);
}

/** Longest `sort({ by })` path accepted: it is split on dots and walked in every item. */
const MAX_SORT_PATH = 1024;

/**
 * Checks `sort`'s options.
 *
 * @throws {BadRequestError} for anything but `{ by?: "field.path", descending?: boolean }`
 */
export function sortOptions(
  op: string,
  value: unknown,
): { by?: string; descending?: boolean } {
  if (value === undefined || value === null) return {};
  const options = value as Record<string, unknown>;
  if (
    typeof value !== "object" || Array.isArray(value) ||
    (options.by !== undefined &&
      (typeof options.by !== "string" || options.by === "")) ||
    (options.descending !== undefined &&
      typeof options.descending !== "boolean")
  ) {
    throw new BadRequestError(
      `${op}: options must be { by?: "field.path", descending?: boolean }`,
    );
  }
  if (typeof options.by === "string" && options.by.length > MAX_SORT_PATH) {
    throw new BadRequestError(`${op}: the by path is ${options.by.length} characters; at most ${MAX_SORT_PATH}`);
  }
  return {
    by: options.by as string | undefined,
    descending: options.descending as boolean | undefined,
  };
}

const REPLACE: ListChange = { op: "replace" };

/** The list ops, by name. */
export const listOps = {
  "l.at": listOp([1, 1], false, (t, a, op) => t.at(index(op, a[0]))),
  "l.set": listOp([2, 2], true, (t, a, op, emit) => {
    const at = index(op, a[0]);
    t.set(at, a[1]);
    emit({ op: "set", index: at < 0 ? t.size + at : at, value: a[1] });
  }),
  "l.push": listOp([0, Infinity], true, (t, a, _op, emit) => {
    const length = t.push(a);
    if (a.length > 0) emit({ op: "push", values: a });
    return length;
  }),
  "l.pop": listOp([0, 1], true, (t, a, op, emit) => {
    const at = optionalIndex(op, a[0], "index");
    const length = t.size;
    const value = t.pop(at);
    if (length === 0) return value;
    const last = at === undefined || at === length - 1 || at === -1;
    emit(last ? { op: "pop" } : REPLACE);
    return value;
  }),
  "l.shift": listOp([0, 0], true, (t, _a, _op, emit) => {
    if (t.size === 0) return undefined;
    const value = t.shift();
    emit(REPLACE);
    return value;
  }),
  "l.unshift": listOp([0, Infinity], true, (t, a, _op, emit) => {
    const length = t.unshift(a);
    if (a.length > 0) emit(REPLACE);
    return length;
  }),
  "l.insert": listOp([2, 2], true, (t, a, op, emit) => {
    t.insert(index(op, a[0]), a[1]);
    emit(REPLACE);
  }),
  "l.remove": listOp([1, 1], true, (t, a, _op, emit) => {
    t.remove(a[0]);
    emit(REPLACE);
  }),
  "l.count": listOp([1, 1], false, (t, a) => t.count(a[0])),
  "l.indexOf": listOp(
    [1, 2],
    false,
    (t, a, op) => t.indexOf(a[0], optionalIndex(op, a[1], "fromIndex") ?? 0),
  ),
  "l.includes": listOp([1, 1], false, (t, a) => t.indexOf(a[0], 0) >= 0),
  "l.slice": listOp(
    [0, 2],
    false,
    (t, a, op) =>
      t.slice(
        optionalIndex(op, a[0], "start"),
        optionalIndex(op, a[1], "end"),
      ),
  ),
  "l.splice": listOp([1, Infinity], true, (t, a, op, emit) => {
    const start = index(op, a[0], "start");
    const deleteCount = a.length > 1 ? index(op, a[1], "deleteCount") : t.size;
    const removed = t.splice(start, deleteCount, a.slice(2));
    if (removed.length > 0 || a.length > 2) emit(REPLACE);
    return removed;
  }),
  "l.reverse": listOp([0, 0], true, (t, _a, _op, emit) => {
    t.reverse();
    if (t.size > 1) emit(REPLACE);
  }),
  "l.sort": listOp([0, 1], true, (t, a, op, emit) => {
    t.sort(sortOptions(op, a[0]));
    if (t.size > 1) emit(REPLACE);
  }),
  "l.clear": listOp([0, 0], true, (t, _a, _op, emit) => {
    if (t.size === 0) return;
    t.clear();
    emit(REPLACE);
  }),
  "l.length": listOp([0, 0], false, (t) => t.size),
  "l.toArray": listOp([0, 0], false, (t) => t.slice()),
} satisfies Record<string, OpSpec<ListTable>>;
