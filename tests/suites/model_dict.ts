/**
 * Model-based suite: a seeded stream of random operations applied both to a
 * CyberDict and to a local `Map` with Python `dict` rules; every result and
 * the whole table are compared after every step.
 *
 * @module
 */
import type { CyberDict, Key } from "../../mod.ts";
import type { EngineSuite } from "../_suite.ts";
import { ModelError, type Op, type Random, runModel, show, STEPS } from "./_model.ts";

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

/**
 * Registers the CyberDict model run on `suite`'s engine.
 *
 * @param seed the run's seed (in the test name, to rerun it)
 */
export function modelDictSuite(suite: EngineSuite, seed: number): void {
  suite.test(`${STEPS} random CyberDict operations match a local Map model (seed ${seed})`, () =>
    suite.withDict(async (d) => {
      const m = new DictModel();
      await runModel(seed, (r) => dictOp(r, d, m), () => d.entries(), () => [...m.map]);
    }));
}
