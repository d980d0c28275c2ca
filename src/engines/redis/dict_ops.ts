/**
 * CyberDict ops on Redis. The reads are one plain command each, atomic by
 * Redis itself: `get` and `has` are `HMGET <hash> # <field>` (no `#`: no
 * such table; a list answers `WRONGTYPE`), `size` is `HLEN` less the `#`
 * field. Every other op is one Lua script (see `lua_dict.ts`), atomic on
 * the table's node. The one op computed by the client is
 * `increment` by a bigint (or of a stored bigint): a read, the sum in
 * JavaScript, and a compare-and-set of that one key, retried while another
 * writer changed the key in between — still all or nothing, never a blind
 * read-modify-write.
 *
 * @module
 */
import { BadRequestError, KeyNotFoundError, TimeoutError, UnsupportedError, WrongTypeError } from "../../errors.ts";
import type { DictOp } from "../../protocol/messages.ts";
import { entries } from "../../store/dict_ops.ts";
import { expiresAt, expiryOf } from "../../store/expiry.ts";
import { assertKey, type Key } from "../../store/values.ts";
import { type Arg, copyOf, fromBytes, type RedisCalls, ScriptError, text, toBytes } from "./calls.ts";
import { fieldKey, keyField, SEQ_FIELD } from "./keys.ts";

/** One op: checks its arguments, runs, and resolves to the op's result. */
export type Handler = (c: RedisCalls, table: string, args: readonly unknown[], op: string) => Promise<unknown>;

/** How many times an optimistic op tries before giving up with `TIMEOUT`. */
export const MAX_ATTEMPTS = 32;

function keysOf(c: RedisCalls, table: string): string[] {
  const k = c.keys(table);
  return [k.base, k.order];
}

/** `HMGET <hash> # <field>`: the stored bytes, or `null`; `NO_SUCH_TABLE` when the dict is not there. */
async function read(c: RedisCalls, table: string, field: string): Promise<unknown> {
  const [seq, stored] = await c.command("hmget", [c.keys(table).base, SEQ_FIELD, field], true) as unknown[];
  if (seq === null) throw new ScriptError("NO_SUCH_TABLE", "");
  return stored;
}

function field(op: string, key: unknown): string {
  assertKey(op, key);
  return keyField(key);
}

/** The error of `increment` on a value that is no number (or no bigint for a bigint amount). */
export function holds(key: Key, current: unknown, by: number | bigint): WrongTypeError {
  return new WrongTypeError(
    `increment: key ${JSON.stringify(key)} holds ${current === null ? "null" : typeof current}, ` +
      `not a ${typeof by}; increment only adds to numbers (or bigints by a bigint)`,
  );
}

function noExpiry(op: string): UnsupportedError {
  return new UnsupportedError(`${op}: the redis engine has no expiry of entries yet; use the memory or remote engine`);
}

/** Checks an `{ expireIn }` option as the other engines do, and refuses one that asks for an expiry. */
function withoutExpiry(op: string, options: unknown): void {
  if (expiryOf(op, options) !== 0) throw noExpiry(op);
}

/** `increment` computed here: read, add, compare-and-set, retried while the key changes underneath. */
async function incrementHere(c: RedisCalls, table: string, key: Key, by: number | bigint): Promise<unknown> {
  const keys = keysOf(c, table), f = keyField(key);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await read(c, table, f);
    const current = stored === null ? (typeof by === "bigint" ? 0n : 0) : fromBytes(stored);
    if (typeof current !== typeof by) throw holds(key, current, by);
    const sum = (current as number) + (by as number);
    const expected: Arg = stored === null ? "" : stored as Arg;
    if (await c.run("cdb_dcas", keys, [f, expected, toBytes(sum)]) === 1) return sum;
  }
  throw new TimeoutError(`increment: key ${JSON.stringify(key)} kept changing over ${MAX_ATTEMPTS} attempts; retry`);
}

/** Every CyberDict op. */
export const dictOps: Record<DictOp, Handler> = {
  async "d.get"(c, t, a, op) {
    const f = field(op, a[0]), fallback = a.length > 1 ? copyOf(a[1]) : undefined;
    const stored = await read(c, t, f);
    return stored === null ? fallback : fromBytes(stored);
  },
  async "d.set"(c, t, a, op) {
    withoutExpiry(op, a[2]);
    await c.run("cdb_dset", keysOf(c, t), [field(op, a[0]), toBytes(a[1])]);
  },
  async "d.has"(c, t, a, op) {
    return await read(c, t, field(op, a[0])) !== null;
  },
  async "d.delete"(c, t, a, op) {
    return await c.run("cdb_ddelete", keysOf(c, t), [field(op, a[0])]) === 1;
  },
  async "d.size"(c, t) {
    const n = await c.command("hlen", [c.keys(t).base]) as number;
    if (n === 0) throw new ScriptError("NO_SUCH_TABLE", "");
    return n - 1;
  },
  async "d.keys"(c, t) {
    return (await c.run("cdb_dkeys", keysOf(c, t), []) as unknown[]).map((f) => fieldKey(text(f)));
  },
  async "d.values"(c, t) {
    return (await c.run("cdb_dvalues", keysOf(c, t), []) as unknown[]).map(fromBytes);
  },
  async "d.entries"(c, t) {
    const flat = await c.run("cdb_dentries", keysOf(c, t), []) as unknown[];
    const out: [Key, unknown][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([fieldKey(text(flat[i])), fromBytes(flat[i + 1])]);
    return out;
  },
  async "d.clear"(c, t) {
    await c.run("cdb_dclear", keysOf(c, t), []);
  },
  async "d.setDefault"(c, t, a, op) {
    withoutExpiry(op, a[2]);
    const bytes = toBytes(a[1]);
    const [had, stored] = await c.run("cdb_dsetdefault", keysOf(c, t), [field(op, a[0]), bytes]) as unknown[];
    return fromBytes(had === 1 ? stored : bytes);
  },
  async "d.update"(c, t, a, op) {
    withoutExpiry(op, a[1]);
    const flat: Arg[] = [];
    for (const [key, value] of entries(op, a[0])) flat.push(keyField(key), toBytes(value));
    await c.run("cdb_dupdate", keysOf(c, t), flat);
  },
  async "d.pop"(c, t, a, op) {
    const key = a[0], f = field(op, key), fallback = copyOf(a[1]);
    const stored = await c.run("cdb_dpop", keysOf(c, t), [f]);
    if (stored !== null) return fromBytes(stored);
    if (a.length > 1) return fallback;
    throw new KeyNotFoundError(`pop: no key ${JSON.stringify(key)}; pass a default to get it instead of an error`);
  },
  async "d.popItem"(c, t) {
    const [f, value] = await c.run("cdb_dpopitem", keysOf(c, t), []) as unknown[];
    return [fieldKey(text(f)), fromBytes(value)];
  },
  async "d.increment"(c, t, a, op) {
    const by = a.length > 1 ? a[1] : 1;
    if ((typeof by !== "number" || !Number.isFinite(by)) && typeof by !== "bigint") {
      throw new BadRequestError(`${op}: the amount must be a finite number or a bigint`);
    }
    const key = a[0], f = field(op, key);
    if (typeof by === "bigint") return await incrementHere(c, t, key as Key, by);
    const [done, bytes] = await c.run("cdb_dincrement", keysOf(c, t), [f, String(by)]) as unknown[];
    if (done === 1) return fromBytes(bytes);
    const current = fromBytes(bytes);
    if (typeof current === "number") return await incrementHere(c, t, key as Key, by);
    throw holds(key as Key, current, by);
  },
  "d.expire"(_c, _t, a, op) {
    field(op, a[0]);
    expiresAt(op, a[1]);
    return Promise.reject(noExpiry(op));
  },
  "d.persist"(_c, _t, a, op) {
    field(op, a[0]);
    return Promise.reject(noExpiry(op));
  },
  "d.ttl"(_c, _t, a, op) {
    field(op, a[0]);
    return Promise.reject(noExpiry(op));
  },
};
