/**
 * Model-based suite: a seeded stream of random operations applied both to a
 * CyberList and to a local `Array` with Python `list` rules; every result
 * and the whole list are compared after every step.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import type { CyberList } from "../../mod.ts";
import type { EngineSuite } from "../_suite.ts";
import { ModelError, type Op, type Random, runModel, show, STEPS } from "./_model.ts";

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

/**
 * Registers the CyberList model run on `suite`'s engine.
 *
 * @param seed the run's seed (in the test name, to rerun it)
 */
export function modelListSuite(suite: EngineSuite, seed: number): void {
  suite.test(`${STEPS} random CyberList operations match a local Array model (seed ${seed})`, () =>
    suite.withList([], async (l) => {
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
      // The generator, not the engine, decides this; it guards that sort() was exercised both ways.
      assert.ok(m.sorts.ok > 50 && m.sorts.failed > 50, `seed ${seed}: sorts ${show(m.sorts)}`);
    }));
}
