/**
 * Model-based tests: a seeded stream of random operations is applied both to
 * a local model (a `Map` with Python `dict` rules, an `Array` with Python
 * `list` rules) and to a remote CyberDict / CyberList, and every result and
 * the whole table are compared after every step. The full state is fetched
 * with the same round trip as the operation (pipelined on one proxy), so
 * comparing after every step stays fast.
 *
 * A failure names its seed and step; rerun one seed with
 * `MODEL_SEED=<seed> deno test -A tests/model_test.ts`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { inspect, isDeepStrictEqual } from "node:util";
import { CyberDBError, type CyberDict, type CyberList, type Key, type StartOptions } from "../mod.ts";
import { startServer, TRANSPORTS } from "./_server.ts";
import { mulberry32 } from "./_random.ts";

const STEPS = 10_000;
const BASE_SEED = process.env.MODEL_SEED === undefined ? 0x5eed_c0de : Number(process.env.MODEL_SEED);

class Random {
  #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }
}

/** An error the local model raises where the server must raise the same code. */
class ModelError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

type Outcome = { ok: unknown } | { error: string };

/** One operation, as the model applies it and as the remote table applies it. */
interface Op {
  desc: string;
  local(): unknown;
  remote(): Promise<unknown>;
}

function localOutcome(op: Op): Outcome {
  try {
    return { ok: op.local() };
  } catch (error) {
    if (error instanceof ModelError) return { error: error.code };
    throw error;
  }
}

function remoteOutcome(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    (ok) => ({ ok }),
    (error) => {
      if (error instanceof CyberDBError) return { error: error.code };
      throw error;
    },
  );
}

const show = (value: unknown) => inspect(value, { depth: 6, breakLength: Infinity });

/**
 * Runs `STEPS` random operations; after each one, compares its outcome and the
 * whole remote state (fetched in the same round trip) with the model's.
 */
async function runModel(
  seed: number,
  nextOp: (random: Random) => Op,
  remoteState: () => Promise<unknown>,
  localState: () => unknown,
): Promise<void> {
  const random = new Random(seed);
  for (let step = 0; step < STEPS; step++) {
    const op = nextOp(random);
    const gotOutcome = remoteOutcome(op.remote());
    const gotState = remoteState(); // pipelined behind the op: sees its effect
    const expected = localOutcome(op);
    const where = `seed ${seed} (rerun with MODEL_SEED=${seed}), step ${step}, ${op.desc}`;
    assert.deepStrictEqual(await gotOutcome, expected, `${where}: the result differs from the model`);
    assert.deepStrictEqual(await gotState, localState(), `${where}: the table differs from the model`);
  }
}

// ---- CyberDict vs a Map with Python dict rules ----

const DICT_KEYS: Key[] = ["a", "b", "c", "d", "e", "f", "", "😀", "日本", 0, 1, 2, 3, -1, 1.5, "0", "1", "2"];

function dictValue(r: Random): unknown {
  switch (r.int(0, 13)) {
    case 0:
      return r.int(-100, 100);
    case 1:
      return r.int(0, 3);
    case 2:
      return r.float() * 1000 - 500;
    case 3:
      return r.pick(["", "x", "hello", "é", "e\u0301", "🎉", "中文"]);
    case 4:
      return null;
    case 5:
      return r.chance(0.5);
    case 6:
      return BigInt(r.int(-50, 50)) * (r.chance(0.3) ? 2n ** 100n : 1n);
    case 7:
      return [];
    case 8:
      return {};
    case 9:
      return [r.int(0, 5), { k: r.pick(["v", null, [1, 2]]) }];
    case 10:
      return { nested: { n: r.int(0, 5), list: [r.chance(0.5), ""] } };
    case 11:
      return new Date(r.int(-1e12, 2e12));
    case 12:
      return new Uint8Array(r.int(0, 4)).map(() => r.int(0, 255));
    default:
      return 0;
  }
}

/** A local dict with CyberDict's semantics: `Map` order is insertion order, so its last entry is what popItem takes. */
class DictModel {
  map = new Map<Key, unknown>();

  get(key: Key, fallback: unknown[]): unknown {
    return this.map.has(key) ? this.map.get(key) : fallback[0];
  }
  setDefault(key: Key, value: unknown): unknown {
    if (!this.map.has(key)) this.map.set(key, value);
    return this.map.get(key);
  }
  pop(key: Key, fallback: unknown[]): unknown {
    if (!this.map.has(key)) {
      if (fallback.length > 0) return fallback[0];
      throw new ModelError("KEY_NOT_FOUND");
    }
    const value = this.map.get(key);
    this.map.delete(key);
    return value;
  }
  popItem(): [Key, unknown] {
    if (this.map.size === 0) throw new ModelError("KEY_NOT_FOUND");
    const last = [...this.map].at(-1)!;
    this.map.delete(last[0]);
    return last;
  }
  increment(key: Key, by: number | bigint): number | bigint {
    const current = this.map.has(key) ? this.map.get(key) : typeof by === "bigint" ? 0n : 0;
    if (typeof current !== typeof by) throw new ModelError("WRONG_TYPE");
    const sum = typeof by === "bigint" ? (current as bigint) + by : (current as number) + by;
    this.map.set(key, sum);
    return sum;
  }
}

function dictOp(r: Random, d: CyberDict, m: DictModel): Op {
  const key = r.pick(DICT_KEYS);
  const roll = r.int(0, 99);
  if (roll < 20) {
    const value = dictValue(r);
    return {
      desc: `set(${show(key)}, ${show(value)})`,
      local: () => void m.map.set(key, value),
      remote: () => d.set(key, value),
    };
  }
  if (roll < 30) {
    const fallback = r.chance(0.5) ? [] : [r.pick([undefined, null, 0, "default", { d: 1 }])];
    return {
      desc: `get(${show(key)}${fallback.length ? `, ${show(fallback[0])}` : ""})`,
      local: () => m.get(key, fallback),
      remote: () => fallback.length ? d.get(key, fallback[0]) : d.get(key),
    };
  }
  if (roll < 35) return { desc: `has(${show(key)})`, local: () => m.map.has(key), remote: () => d.has(key) };
  if (roll < 45) return { desc: `delete(${show(key)})`, local: () => m.map.delete(key), remote: () => d.delete(key) };
  if (roll < 50) {
    const value = dictValue(r);
    return {
      desc: `setDefault(${show(key)}, ${show(value)})`,
      local: () => m.setDefault(key, value),
      remote: () => d.setDefault(key, value),
    };
  }
  if (roll < 55) {
    const entries: [Key, unknown][] = Array.from({ length: r.int(0, 4) }, () => [r.pick(DICT_KEYS), dictValue(r)]);
    return {
      desc: `update(${show(entries)})`,
      local: () => {
        for (const [k, v] of entries) m.map.set(k, v);
      },
      remote: () => d.update(entries),
    };
  }
  if (roll < 65) {
    const fallback = r.chance(0.6) ? [] : [r.pick([undefined, null, 0, "default"])];
    return {
      desc: `pop(${show(key)}${fallback.length ? `, ${show(fallback[0])}` : ""})`,
      local: () => m.pop(key, fallback),
      remote: () => fallback.length ? d.pop(key, fallback[0]) : d.pop(key),
    };
  }
  if (roll < 73) return { desc: "popItem()", local: () => m.popItem(), remote: () => d.popItem() };
  if (roll < 85) {
    const by = r.pick<number | bigint | undefined>([undefined, 1, 2, -3, 0.5, 100, 1n, -7n, 2n ** 70n]);
    return {
      desc: `increment(${show(key)}${by === undefined ? "" : `, ${show(by)}`})`,
      local: () => m.increment(key, by ?? 1),
      remote: () => by === undefined ? d.increment(key) : d.increment(key, by),
    };
  }
  if (roll < 87) return { desc: "size()", local: () => m.map.size, remote: () => d.size() };
  if (roll < 89) return { desc: "keys()", local: () => [...m.map.keys()], remote: () => d.keys() };
  if (roll < 91) return { desc: "values()", local: () => [...m.map.values()], remote: () => d.values() };
  if (roll < 93) return { desc: "toMap()", local: () => new Map(m.map), remote: () => d.toMap() };
  if (roll < 94) return { desc: "clear()", local: () => m.map.clear(), remote: () => d.clear() };
  return { desc: `has(${show(key)})`, local: () => m.map.has(key), remote: () => d.has(key) };
}

async function withProxyTables(
  start: StartOptions,
  body: (dict: CyberDict, list: CyberList) => Promise<void>,
): Promise<void> {
  const fx = await startServer(start);
  try {
    await using proxy = await fx.client.getProxy().connect();
    await body(await proxy.createCyberDict("model_dict"), await proxy.createCyberList("model_list"));
  } finally {
    await fx.close();
  }
}

for (const [i, t] of TRANSPORTS.entries()) {
  const seed = BASE_SEED + i;
  test(`${t.name}: ${STEPS} random CyberDict operations match a local Map model (seed ${seed})`, () =>
    withProxyTables(t.start, async (d) => {
      const m = new DictModel();
      await runModel(seed, (r) => dictOp(r, d, m), () => d.entries(), () => [...m.map]);
    }));
}

// ---- CyberList vs an Array with Python list rules ----

type Theme = "int" | "string" | "object" | "mixed";

function listValue(r: Random, theme: Theme): unknown {
  // Mostly values of the current theme, so that sort() often succeeds; sometimes anything.
  const kind = r.chance(0.97) ? theme : "mixed";
  switch (kind) {
    case "int":
      return r.chance(0.9) ? r.int(-5, 20) : BigInt(r.int(-5, 20));
    case "string":
      return r.pick(["", "a", "b", "B", "ab", "é", "～", "😀", "z", "中"]);
    case "object":
      return { a: r.int(0, 6) };
    default:
      return r.pick<unknown>([null, [1, 2], { a: "x" }, { b: 1 }, "a", 3, 3n, { a: 1 }, [], {}]);
  }
}

function index(r: Random, length: number): number {
  return r.int(-length - 2, length + 2);
}

/** Code point order, computed independently of the server's UTF-16 trick. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!), y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** A local list with CyberList's semantics. */
class ListModel {
  items: unknown[] = [];
  sorts = { ok: 0, failed: 0 };

  #inRange(index: number): number {
    const at = index < 0 ? this.items.length + index : index;
    if (at < 0 || at >= this.items.length) throw new ModelError("INDEX_OUT_OF_RANGE");
    return at;
  }
  set(index: number, value: unknown): void {
    this.items[this.#inRange(index)] = value;
  }
  pop(index?: number): unknown {
    if (index === undefined) return this.items.pop();
    return this.items.splice(this.#inRange(index), 1)[0];
  }
  insert(index: number, value: unknown): void {
    const n = this.items.length;
    this.items.splice(index < 0 ? Math.max(0, n + index) : Math.min(index, n), 0, value);
  }
  indexOf(value: unknown, fromIndex = 0): number {
    const n = this.items.length;
    for (let i = fromIndex < 0 ? Math.max(0, n + fromIndex) : fromIndex; i < n; i++) {
      if (isDeepStrictEqual(this.items[i], value)) return i;
    }
    return -1;
  }
  remove(value: unknown): void {
    const at = this.indexOf(value);
    if (at < 0) throw new ModelError("VALUE_NOT_FOUND");
    this.items.splice(at, 1);
  }
  count(value: unknown): number {
    return this.items.filter((item) => isDeepStrictEqual(item, value)).length;
  }
  sort(by: string | undefined, descending: boolean): void {
    const keyed = this.items.map((value, i) => {
      const key = by === undefined
        ? value
        : value !== null && typeof value === "object" && Object.hasOwn(value, by)
        ? (value as Record<string, unknown>)[by]
        : undefined;
      return { value, key, i };
    });
    const kindOf = (v: unknown) =>
      typeof v === "number" || typeof v === "bigint" ? "number" : typeof v === "string" ? "string" : undefined;
    const kinds = new Set(keyed.map(({ key }) => kindOf(key)));
    if (kinds.has(undefined) || kinds.size > 1) {
      this.sorts.failed++;
      throw new ModelError("WRONG_TYPE");
    }
    this.sorts.ok++;
    const sign = descending ? -1 : 1;
    keyed.sort((x, y) => {
      const order = typeof x.key === "string"
        ? compareCodePoints(x.key, y.key as string)
        : (x.key as number) < (y.key as number)
        ? -1
        : (x.key as number) > (y.key as number)
        ? 1
        : 0;
      return order === 0 ? x.i - y.i : sign * order;
    });
    this.items = keyed.map(({ value }) => value);
  }
}

function listOp(r: Random, l: CyberList, m: ListModel, theme: Theme): Op {
  const n = m.items.length;
  const value = () => r.chance(0.5) && n > 0 ? structuredClone(r.pick(m.items)) : listValue(r, theme);
  // Grow while short, shrink while long, so lengths wander between empty and ~80.
  const grow = n < 10 ? 0.7 : n > 80 ? 0.3 : 0.5;
  const roll = r.int(0, 99);
  if (roll < 20) {
    if (r.chance(grow)) {
      const values = Array.from({ length: r.int(0, 3) }, () => listValue(r, theme));
      if (r.chance(0.7)) {
        return {
          desc: `push(...${show(values)})`,
          local: () => m.items.push(...values),
          remote: () => l.push(...values),
        };
      }
      return {
        desc: `unshift(...${show(values)})`,
        local: () => m.items.unshift(...values),
        remote: () => l.unshift(...values),
      };
    }
    const i = r.chance(0.5) ? undefined : index(r, n);
    if (r.chance(0.3)) return { desc: "shift()", local: () => m.items.shift(), remote: () => l.shift() };
    return {
      desc: `pop(${i ?? ""})`,
      local: () => m.pop(i),
      remote: () => i === undefined ? l.pop() : l.pop(i),
    };
  }
  if (roll < 30) {
    const i = index(r, n), v = listValue(r, theme);
    if (r.chance(grow)) {
      return {
        desc: `insert(${i}, ${show(v)})`,
        local: () => m.insert(i, v),
        remote: () => l.insert(i, v),
      };
    }
    return { desc: `set(${i}, ${show(v)})`, local: () => m.set(i, v), remote: () => l.set(i, v) };
  }
  if (roll < 38) {
    const i = index(r, n);
    return { desc: `at(${i})`, local: () => m.items.at(i), remote: () => l.at(i) };
  }
  if (roll < 46) {
    const v = value();
    return { desc: `remove(${show(v)})`, local: () => m.remove(v), remote: () => l.remove(v) };
  }
  if (roll < 50) {
    const v = value();
    return { desc: `count(${show(v)})`, local: () => m.count(v), remote: () => l.count(v) };
  }
  if (roll < 56) {
    const v = value(), from = r.chance(0.5) ? undefined : index(r, n);
    return {
      desc: `indexOf(${show(v)}${from === undefined ? "" : `, ${from}`})`,
      local: () => m.indexOf(v, from),
      remote: () => from === undefined ? l.indexOf(v) : l.indexOf(v, from),
    };
  }
  if (roll < 59) {
    const v = value();
    return { desc: `includes(${show(v)})`, local: () => m.indexOf(v) >= 0, remote: () => l.includes(v) };
  }
  if (roll < 65) {
    const args: number[] = r.chance(0.2) ? [] : r.chance(0.3) ? [index(r, n)] : [index(r, n), index(r, n)];
    return {
      desc: `slice(${args.join(", ")})`,
      local: () => m.items.slice(...args),
      remote: () => l.slice(...args),
    };
  }
  if (roll < 75) {
    const start = index(r, n);
    if (r.chance(0.15)) {
      return { desc: `splice(${start})`, local: () => m.items.splice(start), remote: () => l.splice(start) };
    }
    const deleteCount = r.int(-1, grow > 0.5 ? 1 : 4);
    const items = Array.from({ length: r.int(0, grow > 0.5 ? 4 : 2) }, () => listValue(r, theme));
    return {
      desc: `splice(${start}, ${deleteCount}, ...${show(items)})`,
      local: () => m.items.splice(start, deleteCount, ...items),
      remote: () => l.splice(start, deleteCount, ...items),
    };
  }
  if (roll < 80) return { desc: "reverse()", local: () => void m.items.reverse(), remote: () => l.reverse() };
  if (roll < 92) {
    const by = theme === "object" || r.chance(0.1) ? "a" : undefined;
    const descending = r.chance(0.4);
    const options = { ...(by === undefined ? {} : { by }), ...(descending ? { descending } : {}) };
    const plain = by === undefined && !descending && r.chance(0.5);
    return {
      desc: plain ? "sort()" : `sort(${show(options)})`,
      local: () => m.sort(by, descending),
      remote: () => plain ? l.sort() : l.sort(options),
    };
  }
  if (roll < 95) return { desc: "length()", local: () => m.items.length, remote: () => l.length() };
  if (roll < 96 && r.chance(0.3)) return { desc: "clear()", local: () => void (m.items = []), remote: () => l.clear() };
  return { desc: "toArray()", local: () => m.items.slice(), remote: () => l.toArray() };
}

for (const [i, t] of TRANSPORTS.entries()) {
  const seed = BASE_SEED + 100 + i;
  test(`${t.name}: ${STEPS} random CyberList operations match a local Array model (seed ${seed})`, () =>
    withProxyTables(t.start, async (_, l) => {
      const m = new ListModel();
      let theme: Theme = "int";
      let step = 0;
      await runModel(
        seed,
        (r) => {
          // A new theme of values every 400 steps.
          if (step++ % 400 === 0) theme = r.pick<Theme>(["int", "int", "string", "object", "mixed"]);
          return listOp(r, l, m, theme);
        },
        () => l.toArray(),
        () => m.items,
      );
      // The generator, not the server, decides this; it guards that sort() was exercised both ways.
      assert.ok(m.sorts.ok > 50 && m.sorts.failed > 50, `seed ${seed}: sorts ${show(m.sorts)}`);
    }));
}
