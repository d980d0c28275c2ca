/**
 * The table ops on Redis: create, open, drop, and the registry that lists
 * the tables in creation order (`<prefix>:{%registry}:tables`), so every
 * process connected to the same Redis sees the same tables.
 *
 * A table's own keys and the registry may sit on different Cluster nodes,
 * so creating and dropping are two steps: the table's keys first (the step
 * that decides: `TABLE_EXISTS`, `NO_SUCH_TABLE`), then the registry. A
 * process that dies between the two leaves the registry one entry off;
 * `tables()` therefore lists only names whose table exists, of the kind it
 * has now.
 *
 * @module
 */
import { BadRequestError, UnsupportedError } from "../../errors.ts";
import type { StoreOp, TableInfo, TableKind } from "../../protocol/messages.ts";
import { entries } from "../../store/dict_ops.ts";
import { tableName } from "../../store/store.ts";
import { type Arg, type RedisCalls, ScriptError, toBytes } from "./calls.ts";
import type { Handler } from "./dict_ops.ts";
import { keyField, registryKeys } from "./keys.ts";
import { runBatch } from "./batch.ts";

function allKeys(c: RedisCalls, table: string): string[] {
  const k = c.keys(table);
  return [k.base, k.order];
}

/** A base key's Redis type as the kind of table it holds. */
const KINDS: Record<string, TableKind> = { hash: "CyberDict", list: "CyberList" };

function initial(op: string, kind: TableKind, value: unknown): Arg[] {
  if (value === undefined) return [];
  if (kind === "CyberDict") {
    const flat: Arg[] = [];
    for (const [key, v] of entries(op, value)) flat.push(keyField(key), toBytes(v));
    return flat;
  }
  if (!Array.isArray(value)) throw new BadRequestError(`${op}: a CyberList's initial value must be an array`);
  return value.map(toBytes);
}

/** Every store op. */
export const tableOps: Record<StoreOp, Handler> = {
  async create(c, t, a, op) {
    const [kind, init] = a;
    tableName(op, t);
    if (kind !== "CyberDict" && kind !== "CyberList") {
      throw new BadRequestError(`${op}: the kind must be "CyberDict" or "CyberList"`);
    }
    await c.run("cdb_create", allKeys(c, t), [kind, ...initial(op, kind, init)]);
    const registry = registryKeys(c.prefix);
    await c.run("cdb_register", [registry.tables, registry.seq], [t]);
  },
  async open(c, t, a, op) {
    tableName(op, t);
    if (a[0] !== "CyberDict" && a[0] !== "CyberList") throw new BadRequestError(`${op}: unknown table kind`);
    const kind = KINDS[await c.command("type", [c.keys(t).base]) as string];
    if (kind === undefined) throw new ScriptError("NO_SUCH_TABLE", "");
    if (kind !== a[0]) throw new ScriptError("WRONG_TYPE", kind);
  },
  async drop(c, t) {
    await c.run("cdb_drop", allKeys(c, t), []);
    await c.command("zrem", [registryKeys(c.prefix).tables, t]);
  },
  async tables(c) {
    const names = await c.command("zrange", [registryKeys(c.prefix).tables, "0", "-1"]) as string[];
    const kinds = await Promise.all(names.map((name) => c.command("type", [c.keys(name).base])));
    const out: TableInfo[] = [];
    names.forEach((name, i) => {
      const kind = KINDS[kinds[i] as string];
      if (kind !== undefined) out.push({ name, type: kind });
    });
    return out;
  },
  watch() {
    return Promise.reject(
      new UnsupportedError(
        "watch: the redis engine cannot watch changes yet; use the memory or remote engine, or poll",
      ),
    );
  },
  atomic(c, _t, a) {
    return runBatch(c, a[0]);
  },
  timed(_c, _t, _a, op) {
    return Promise.reject(new UnsupportedError(`${op}: journal replay is not a redis engine op`));
  },
  unwatch() {
    return Promise.resolve();
  },
  info() {
    return Promise.reject(
      new UnsupportedError(
        "proxy.info() is not available on the redis engine; ask Redis itself (INFO, or redis-cli info)",
      ),
    );
  },
};
