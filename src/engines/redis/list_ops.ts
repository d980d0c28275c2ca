/**
 * CyberList ops on Redis. `length` and `toArray` are one plain command
 * (`LLEN`, `LRANGE`: the list's first item is the marker that keeps an
 * empty list in existence, so 0 items means no such table); the others are
 * one Lua script each (`lua_list.ts`), atomic on the table's node. Deep equality (`remove`, `count`, `indexOf`, `includes`) and `sort`
 * need our decoder — `{a: 1, b: 2}` equals a stored `{b: 2, a: 1}`; bigints
 * sort with numbers; Dates by time — which Lua does not have. They read the
 * whole list in one call (a consistent snapshot; for the two that write,
 * with the SHA-1 of its bytes), compute here with the very functions the
 * store uses (`deepEqual`, `sortedCopy`), and `remove` and `sort` apply
 * their result with a script that checks the list still hashes the same:
 * if it changed in between, nothing is applied and they start over, at most
 * {@link MAX_ATTEMPTS} times (then `TIMEOUT`, the list unchanged). So each
 * is still all or nothing and never overwrites a concurrent write.
 *
 * @module
 */
import { TimeoutError, ValueNotFoundError } from "../../errors.ts";
import type { ListOp } from "../../protocol/messages.ts";
import { sortOptions } from "../../store/list_ops.ts";
import { assertInteger, deepEqual, sortedCopy } from "../../store/values.ts";
import { fromBytes, type RedisCalls, ScriptError, text, toBytes } from "./calls.ts";
import { type Handler, MAX_ATTEMPTS } from "./dict_ops.ts";

function keysOf(c: RedisCalls, table: string): string[] {
  return [c.keys(table).base];
}

function index(op: string, value: unknown, name = "index"): string {
  assertInteger(op, name, value);
  return String(value);
}

function optionalIndex(op: string, value: unknown, name: string): string {
  return value === undefined ? "" : index(op, value, name);
}

async function snapshot(c: RedisCalls, table: string): Promise<{ version: string; items: unknown[] }> {
  const [version, items] = await c.run("cdb_lsnapshot", keysOf(c, table), []) as [unknown, unknown[]];
  return { version: text(version), items: items.slice(1) };
}

/** The stored items (bytes), without the marker. */
async function raw(c: RedisCalls, table: string): Promise<unknown[]> {
  const items = await c.command("lrange", [c.keys(table).base, "0", "-1"], true) as unknown[];
  if (items.length === 0) throw new ScriptError("NO_SUCH_TABLE", "");
  return items.slice(1);
}

async function all(c: RedisCalls, table: string): Promise<unknown[]> {
  return (await raw(c, table)).map(fromBytes);
}

function firstIndex(items: readonly unknown[], value: unknown, fromIndex: number): number {
  const length = items.length;
  for (let i = fromIndex < 0 ? Math.max(0, length + fromIndex) : fromIndex; i < length; i++) {
    if (deepEqual(fromBytes(items[i]), value)) return i;
  }
  return -1;
}

function changing(op: string): TimeoutError {
  return new TimeoutError(`${op}: the list kept changing over ${MAX_ATTEMPTS} attempts; nothing was applied, retry`);
}

const orNull = (reply: unknown) => (reply === null ? undefined : fromBytes(reply));

/** Every CyberList op. */
export const listOps: Record<ListOp, Handler> = {
  async "l.at"(c, t, a, op) {
    return orNull(await c.run("cdb_lat", keysOf(c, t), [index(op, a[0])]));
  },
  async "l.set"(c, t, a, op) {
    await c.run("cdb_lset", keysOf(c, t), [index(op, a[0]), toBytes(a[1])]);
  },
  async "l.push"(c, t, a) {
    return await c.run("cdb_lpush", keysOf(c, t), a.map(toBytes));
  },
  async "l.pop"(c, t, a, op) {
    const args = a[0] === undefined ? [] : [index(op, a[0])];
    return orNull(await c.run("cdb_lpop", keysOf(c, t), args));
  },
  async "l.shift"(c, t) {
    return orNull(await c.run("cdb_lshift", keysOf(c, t), []));
  },
  async "l.unshift"(c, t, a) {
    return await c.run("cdb_lunshift", keysOf(c, t), a.map(toBytes));
  },
  async "l.insert"(c, t, a, op) {
    await c.run("cdb_linsert", keysOf(c, t), [index(op, a[0]), toBytes(a[1])]);
  },
  async "l.remove"(c, t, a) {
    const value = fromBytes(toBytes(a[0]));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { version, items } = await snapshot(c, t);
      const at = firstIndex(items, value, 0);
      if (at < 0) throw new ValueNotFoundError("remove: the value is not in the list");
      if (await c.run("cdb_lremoveat", keysOf(c, t), [version, String(at)]) === 1) return;
    }
    throw changing("remove");
  },
  async "l.count"(c, t, a) {
    const value = fromBytes(toBytes(a[0]));
    let n = 0;
    for (const item of await all(c, t)) if (deepEqual(item, value)) n++;
    return n;
  },
  async "l.indexOf"(c, t, a, op) {
    const value = fromBytes(toBytes(a[0])), from = optionalIndex(op, a[1], "fromIndex");
    return firstIndex(await raw(c, t), value, from === "" ? 0 : Number(from));
  },
  async "l.includes"(c, t, a) {
    const value = fromBytes(toBytes(a[0]));
    return firstIndex(await raw(c, t), value, 0) >= 0;
  },
  async "l.slice"(c, t, a, op) {
    const args = [optionalIndex(op, a[0], "start"), optionalIndex(op, a[1], "end")];
    return (await c.run("cdb_lslice", keysOf(c, t), args) as unknown[]).map(fromBytes);
  },
  async "l.splice"(c, t, a, op) {
    const start = index(op, a[0], "start");
    const deleteCount = a.length > 1 ? index(op, a[1], "deleteCount") : "";
    const items = a.slice(2).map(toBytes);
    return (await c.run("cdb_lsplice", keysOf(c, t), [start, deleteCount, ...items]) as unknown[]).map(fromBytes);
  },
  async "l.reverse"(c, t) {
    await c.run("cdb_lreverse", keysOf(c, t), []);
  },
  async "l.sort"(c, t, a, op) {
    const options = sortOptions(op, a[0]);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { version, items } = await snapshot(c, t);
      const sorted = sortedCopy(items.map(fromBytes), options).map(toBytes);
      if (await c.run("cdb_lreplace", keysOf(c, t), [version, ...sorted]) === 1) return;
    }
    throw changing("sort");
  },
  async "l.clear"(c, t) {
    await c.run("cdb_lclear", keysOf(c, t), []);
  },
  async "l.length"(c, t) {
    const n = await c.command("llen", [c.keys(t).base]) as number;
    if (n === 0) throw new ScriptError("NO_SUCH_TABLE", "");
    return n - 1;
  },
  async "l.toArray"(c, t) {
    return await all(c, t);
  },
};
