/**
 * The CyberDict half of the op table: how each `d.*` request is checked,
 * applied to a {@link DictTable}, and reported to watchers.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import { decode, LazyArray } from "../protocol/codec.ts";
import type { DictTable } from "./dict_table.ts";
import { expiresAt, expiryOf } from "./expiry.ts";
import { ignore, type OpSpec } from "./op_spec.ts";
import { assertKey, type Key } from "./values.ts";

function dictOp(
  arity: [number, number],
  writes: boolean,
  run: OpSpec<DictTable>["run"],
): OpSpec<DictTable> {
  return { kind: "CyberDict", arity, writes, run };
}

function key(op: string, value: unknown): Key {
  assertKey(op, value);
  return value;
}

/**
 * Checks a list of `[key, value]` pairs and returns them (a lazy list is
 * decoded twice: once to check it, once as it is applied).
 *
 * @throws {BadRequestError} for anything else
 */
export function entries(op: string, value: unknown): Iterable<[Key, unknown]> {
  if (!Array.isArray(value) && !(value instanceof LazyArray)) {
    throw new BadRequestError(`${op}: expected an array of [key, value] pairs`);
  }
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new BadRequestError(
        `${op}: expected [key, value] pairs, got an item that is not a pair`,
      );
    }
    assertKey(op, pair[0]);
  }
  return value as Iterable<[Key, unknown]>;
}

/** The `d.*` ops. */
export const dictOps = {
  "d.get": dictOp([1, 2], false, (t, a, op) => t.get(key(op, a[0]), a[1])),
  "d.set": dictOp([2, 3], true, (t, a, op, emit) => {
    const k = key(op, a[0]);
    t.set(k, a[1], expiryOf(op, a[2]));
    emit({ op: "set", key: k, value: a[1] });
  }),
  "d.has": dictOp([1, 1], false, (t, a, op) => t.has(key(op, a[0]))),
  "d.delete": dictOp([1, 1], true, (t, a, op, emit) => {
    const k = key(op, a[0]);
    const existed = t.delete(k);
    if (existed) emit({ op: "delete", key: k });
    return existed;
  }),
  "d.size": dictOp([0, 0], false, (t) => t.size),
  "d.keys": dictOp([0, 0], false, (t) => t.keys()),
  "d.values": dictOp([0, 0], false, (t) => t.values()),
  "d.entries": dictOp([0, 0], false, (t) => t.entries()),
  "d.clear": dictOp([0, 0], true, (t, _a, _op, emit) => {
    if (t.size === 0) return;
    t.clear();
    emit({ op: "clear" });
  }),
  "d.setDefault": dictOp([2, 3], true, (t, a, op, emit) => {
    const k = key(op, a[0]);
    const expiry = expiryOf(op, a[2]);
    if (t.has(k)) return t.get(k, undefined);
    t.set(k, a[1], expiry);
    emit({ op: "set", key: k, value: a[1] });
    return a[1];
  }),
  "d.update": dictOp([1, 2], true, (t, a, op, emit) => {
    const expiry = expiryOf(op, a[1]);
    for (const [k, v] of entries(op, a[0])) {
      t.set(k, v, expiry);
      emit({ op: "set", key: k, value: v });
    }
  }),
  "d.pop": dictOp([1, 2], true, (t, a, op, emit) => {
    const k = key(op, a[0]);
    const existed = t.has(k);
    const value = t.pop(k, a.length > 1, a[1]);
    if (existed) emit({ op: "delete", key: k });
    return value;
  }),
  "d.popItem": dictOp([0, 0], true, (t, _a, _op, emit) => {
    const pair = t.popItem();
    if (emit !== ignore) emit({ op: "delete", key: (decode(pair.bytes) as [Key, unknown])[0] });
    return pair;
  }),
  "d.increment": dictOp([1, 2], true, (t, a, op, emit) => {
    const by = a.length > 1 ? a[1] : 1;
    if (
      (typeof by !== "number" || !Number.isFinite(by)) && typeof by !== "bigint"
    ) {
      throw new BadRequestError(
        `${op}: the amount must be a finite number or a bigint`,
      );
    }
    const k = key(op, a[0]);
    const sum = t.increment(k, by);
    emit({ op: "set", key: k, value: sum });
    return sum;
  }),
  "d.expire": dictOp([2, 2], true, (t, a, op) => t.expire(key(op, a[0]), expiresAt(op, a[1]))),
  "d.persist": dictOp([1, 1], true, (t, a, op) => t.persist(key(op, a[0]))),
  "d.ttl": dictOp([1, 1], false, (t, a, op) => t.ttl(key(op, a[0]))),
} satisfies Record<string, OpSpec<DictTable>>;
