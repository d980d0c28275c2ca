/**
 * Shared suite: every CyberList method that reads or changes items — by
 * index, at the ends, the Python list methods, slices and splices, with
 * 80,000- and 300,000-item requests — and their errors, on one engine.
 *
 * @module
 */
import assert from "node:assert/strict";
import { IndexOutOfRangeError, ValueNotFoundError } from "../../mod.ts";
import type { EngineSuite } from "../_suite.ts";

const isIndexOutOfRange = (e: unknown) => e instanceof IndexOutOfRangeError && e.code === "INDEX_OUT_OF_RANGE";
const isValueNotFound = (e: unknown) => e instanceof ValueNotFoundError && e.code === "VALUE_NOT_FOUND";

/** Registers the CyberList item tests on `suite`'s engine. */
export function listOpsSuite(suite: EngineSuite): void {
  // ---- reading and writing by index ----

  suite.test(`CyberList.at() reads by index, negative from the end, undefined out of range`, () =>
    suite.withList([10, 20, 30], async (l) => {
      assert.equal(await l.at(0), 10);
      assert.equal(await l.at(2), 30);
      assert.equal(await l.at(-1), 30);
      assert.equal(await l.at(-3), 10);
      assert.strictEqual(await l.at(3), undefined);
      assert.strictEqual(await l.at(-4), undefined);
      assert.strictEqual(await l.at(1000), undefined);
    }));

  suite.test(`CyberList.at() reads stored falsy values exactly, distinct from out of range`, () =>
    suite.withList<unknown>([0, "", false, null, [], {}], async (l) => {
      assert.strictEqual(await l.at(0), 0);
      assert.strictEqual(await l.at(1), "");
      assert.strictEqual(await l.at(2), false);
      assert.strictEqual(await l.at(3), null);
      assert.deepStrictEqual(await l.at(4), []);
      assert.deepStrictEqual(await l.at(5), {});
      assert.strictEqual(await l.at(6), undefined);
    }));

  suite.test(`CyberList.set() replaces by index, negative from the end, and resolves to undefined`, () =>
    suite.withList(["a", "b", "c"], async (l) => {
      assert.strictEqual(await l.set(0, "A"), undefined);
      await l.set(-1, "C");
      await l.set(-2, "B");
      assert.deepStrictEqual(await l.toArray(), ["A", "B", "C"]);
    }));

  suite.test(`CyberList.set() out of range rejects with INDEX_OUT_OF_RANGE and changes nothing`, () =>
    suite.withList(["a", "b", "c"], async (l) => {
      await assert.rejects(l.set(3, "x"), isIndexOutOfRange);
      await assert.rejects(l.set(-4, "x"), isIndexOutOfRange);
      await assert.rejects(l.set(100, "x"), isIndexOutOfRange);
      assert.deepStrictEqual(await l.toArray(), ["a", "b", "c"]);
      await l.clear();
      await assert.rejects(l.set(0, "x"), isIndexOutOfRange);
      assert.deepStrictEqual(await l.toArray(), []);
    }));

  // ---- adding and removing at the ends ----

  suite.test(`CyberList.push() appends and resolves to the new length`, () =>
    suite.withList<unknown>([], async (l) => {
      assert.strictEqual(await l.push("a"), 1);
      assert.strictEqual(await l.push("b", "c", { d: 1 }), 4);
      assert.strictEqual(await l.push(), 4);
      assert.deepStrictEqual(await l.toArray(), ["a", "b", "c", { d: 1 }]);
    }));

  suite.test(`CyberList.unshift() prepends in argument order and resolves to the new length`, () =>
    suite.withList([3], async (l) => {
      assert.strictEqual(await l.unshift(1, 2), 3);
      assert.strictEqual(await l.unshift(0), 4);
      assert.strictEqual(await l.unshift(), 4);
      assert.deepStrictEqual(await l.toArray(), [0, 1, 2, 3]);
    }));

  suite.test(`CyberList.pop() removes and resolves to the last item`, () =>
    suite.withList<unknown>([1, null, { a: [2] }], async (l) => {
      assert.deepStrictEqual(await l.pop(), { a: [2] });
      assert.strictEqual(await l.pop(), null, "a stored null is not an empty list");
      assert.strictEqual(await l.pop(), 1);
      assert.strictEqual(await l.length(), 0);
    }));

  suite.test(`CyberList.pop() on an empty list resolves to undefined`, () =>
    suite.withList([], async (l) => {
      assert.strictEqual(await l.pop(), undefined);
      assert.strictEqual(await l.length(), 0);
    }));

  suite.test(`CyberList.pop(i) removes at an index, negative from the end`, () =>
    suite.withList(["a", "b", "c", "d", "e"], async (l) => {
      assert.equal(await l.pop(1), "b");
      assert.equal(await l.pop(-2), "d");
      assert.equal(await l.pop(0), "a");
      assert.equal(await l.pop(-1), "e");
      assert.deepStrictEqual(await l.toArray(), ["c"]);
    }));

  suite.test(`CyberList.pop(i) out of range rejects with INDEX_OUT_OF_RANGE and changes nothing`, () =>
    suite.withList(["a", "b"], async (l) => {
      await assert.rejects(l.pop(2), isIndexOutOfRange);
      await assert.rejects(l.pop(-3), isIndexOutOfRange);
      assert.deepStrictEqual(await l.toArray(), ["a", "b"]);
      await l.clear();
      await assert.rejects(l.pop(0), isIndexOutOfRange);
      await assert.rejects(l.pop(-1), isIndexOutOfRange);
    }));

  suite.test(`CyberList.shift() removes and resolves to the first item, undefined when empty`, () =>
    suite.withList<unknown>([0, "x"], async (l) => {
      assert.strictEqual(await l.shift(), 0);
      assert.strictEqual(await l.shift(), "x");
      assert.strictEqual(await l.shift(), undefined);
      assert.strictEqual(await l.length(), 0);
    }));

  // ---- Python list methods ----

  suite.test(`CyberList.insert() inserts before an index, clamped like Python's list.insert`, () =>
    suite.withList([1, 2, 3], async (l) => {
      assert.strictEqual(await l.insert(1, 10), undefined);
      assert.deepStrictEqual(await l.toArray(), [1, 10, 2, 3]);
      await l.insert(-1, 20); // before the last
      assert.deepStrictEqual(await l.toArray(), [1, 10, 2, 20, 3]);
      await l.insert(100, 30); // clamped to the end
      await l.insert(-100, 0); // clamped to the start
      assert.deepStrictEqual(await l.toArray(), [0, 1, 10, 2, 20, 3, 30]);
      await l.insert(7, 40); // exactly the length: append
      await l.insert(0, -1);
      assert.deepStrictEqual(await l.toArray(), [-1, 0, 1, 10, 2, 20, 3, 30, 40]);
    }));

  suite.test(`CyberList.insert() into an empty list at any index appends`, () =>
    suite.withList<string>([], async (l) => {
      await l.insert(-5, "a");
      await l.insert(5, "b");
      assert.deepStrictEqual(await l.toArray(), ["a", "b"]);
    }));

  suite.test(`CyberList.remove() removes the first deeply equal item and resolves to undefined`, () =>
    suite.withList<unknown>([1, { a: 1 }, [1, 2], { a: 1 }, { b: 2, a: 1 }], async (l) => {
      assert.strictEqual(await l.remove({ a: 1 }), undefined);
      assert.deepStrictEqual(await l.toArray(), [1, [1, 2], { a: 1 }, { b: 2, a: 1 }]);
      await l.remove([1, 2]);
      await l.remove({ a: 1, b: 2 }); // key order does not matter
      assert.deepStrictEqual(await l.toArray(), [1, { a: 1 }]);
    }));

  suite.test(`CyberList.remove() of an absent value rejects with VALUE_NOT_FOUND and changes nothing`, () =>
    suite.withList<unknown>([1, { a: 1 }, "2"], async (l) => {
      await assert.rejects(l.remove({ a: 2 }), isValueNotFound);
      await assert.rejects(l.remove({ a: 1, b: undefined }), isValueNotFound);
      await assert.rejects(l.remove("1"), isValueNotFound, "1 is not '1'");
      await assert.rejects(l.remove(2), isValueNotFound, "2 is not '2'");
      await assert.rejects(l.remove(1n), isValueNotFound, "1n is not 1");
      assert.deepStrictEqual(await l.toArray(), [1, { a: 1 }, "2"]);
      await l.clear();
      await assert.rejects(l.remove(1), isValueNotFound);
    }));

  suite.test(`CyberList.count() counts deeply equal items`, () =>
    suite.withList<unknown>([{ a: 1 }, { a: 1 }, { a: 2 }, [1, [2]], [1, [2]], 1, "1", null], async (l) => {
      assert.strictEqual(await l.count({ a: 1 }), 2);
      assert.strictEqual(await l.count([1, [2]]), 2);
      assert.strictEqual(await l.count(1), 1);
      assert.strictEqual(await l.count(null), 1);
      assert.strictEqual(await l.count({ a: 3 }), 0);
      assert.strictEqual(await l.count(undefined), 0);
    }));

  suite.test(`CyberList.indexOf() finds the first deeply equal item from fromIndex, or -1`, () =>
    suite.withList<unknown>(["a", { k: [1] }, "b", "a", { k: [1] }], async (l) => {
      assert.strictEqual(await l.indexOf("a"), 0);
      assert.strictEqual(await l.indexOf({ k: [1] }), 1);
      assert.strictEqual(await l.indexOf("a", 1), 3);
      assert.strictEqual(await l.indexOf({ k: [1] }, 2), 4);
      assert.strictEqual(await l.indexOf("a", -2), 3, "negative fromIndex counts from the end");
      assert.strictEqual(await l.indexOf("b", -2), -1);
      assert.strictEqual(await l.indexOf("a", -100), 0, "clamped to the start");
      assert.strictEqual(await l.indexOf("a", 5), -1);
      assert.strictEqual(await l.indexOf("a", 100), -1);
      assert.strictEqual(await l.indexOf("missing"), -1);
      assert.strictEqual(await l.indexOf({ k: [2] }), -1);
    }));

  suite.test(`CyberList.includes() tells whether a deeply equal item is present`, () =>
    suite.withList<unknown>([{ a: [1, { b: null }] }, 0, new Date(5), NaN], async (l) => {
      assert.strictEqual(await l.includes({ a: [1, { b: null }] }), true);
      assert.strictEqual(await l.includes(0), true);
      assert.strictEqual(await l.includes(new Date(5)), true);
      assert.strictEqual(await l.includes(NaN), true);
      assert.strictEqual(await l.includes({ a: [1, { b: 0 }] }), false);
      assert.strictEqual(await l.includes(false), false);
      assert.strictEqual(await l.includes(new Date(6)), false);
    }));

  // ---- slices ----

  suite.test(`CyberList.slice() follows Array.prototype.slice, negatives and no arguments included`, () =>
    suite.withList([0, 1, 2, 3, 4], async (l) => {
      const local = [0, 1, 2, 3, 4];
      const cases: [number?, number?][] = [
        [],
        [2],
        [-2],
        [1, 3],
        [1, -1],
        [-3, -1],
        [-100, 100],
        [3, 1],
        [5],
        [0, 0],
      ];
      for (const args of cases) {
        assert.deepStrictEqual(await l.slice(...args), local.slice(...args), `slice(${args.join(", ")})`);
      }
      assert.deepStrictEqual(await l.toArray(), local, "slice changes nothing");
    }));

  suite.test(`CyberList.splice() resolves to the removed items and inserts new ones`, () =>
    suite.withList([0, 1, 2, 3, 4, 5], async (l) => {
      assert.deepStrictEqual(await l.splice(1, 2), [1, 2]);
      assert.deepStrictEqual(await l.toArray(), [0, 3, 4, 5]);
      assert.deepStrictEqual(await l.splice(1, 0, 10, 11), []);
      assert.deepStrictEqual(await l.toArray(), [0, 10, 11, 3, 4, 5]);
      assert.deepStrictEqual(await l.splice(-2, 1, 40, 41, 42), [4]);
      assert.deepStrictEqual(await l.toArray(), [0, 10, 11, 3, 40, 41, 42, 5]);
      assert.deepStrictEqual(await l.splice(6, 100), [42, 5]);
      assert.deepStrictEqual(await l.toArray(), [0, 10, 11, 3, 40, 41]);
    }));

  suite.test(`CyberList.splice() without deleteCount removes to the end`, () =>
    suite.withList(["a", "b", "c", "d"], async (l) => {
      assert.deepStrictEqual(await l.splice(2), ["c", "d"]);
      assert.deepStrictEqual(await l.toArray(), ["a", "b"]);
      assert.deepStrictEqual(await l.splice(-1), ["b"]);
      assert.deepStrictEqual(await l.splice(0), ["a"]);
      assert.deepStrictEqual(await l.toArray(), []);
    }));

  suite.test(`CyberList.push(), unshift() and splice() take 80,000 items in one call`, () =>
    suite.withList<number>([-1, -2], async (l) => {
      // 80,000 spread arguments fit on the caller's stack, but not twice over.
      const n = 80_000;
      const items = Array.from({ length: n }, (_, i) => i);
      assert.strictEqual(await l.push(...items), n + 2);
      assert.strictEqual(await l.unshift(...items), 2 * n + 2);
      assert.deepStrictEqual(await l.splice(n, 2, ...items), [-1, -2]);
      assert.strictEqual(await l.length(), 3 * n);
      const all = await l.toArray();
      for (let i = 0; i < all.length; i++) {
        if (all[i] !== i % n) assert.fail(`item ${i} is ${all[i]}, expected ${i % n}`);
      }
    }));

  suite.test(`the engine applies l.push, l.unshift and l.splice requests carrying 300,000 items`, () =>
    suite.withList<number>([-1, -2], async (l, proxy) => {
      const n = 300_000;
      const items = Array.from({ length: n }, (_, i) => i);
      // Raw requests: a caller cannot spread this many arguments into l.push() itself.
      assert.strictEqual(await proxy.request("l.push", l.name, items), n + 2);
      assert.strictEqual(await proxy.request("l.unshift", l.name, items), 2 * n + 2);
      assert.deepStrictEqual(await proxy.request("l.splice", l.name, [n, 2, ...items]), [-1, -2]);
      assert.deepStrictEqual(await proxy.request("l.splice", l.name, [-1, 0, ...items]), []);
      assert.strictEqual(await l.length(), 4 * n);
      const all = await l.toArray();
      const expected = (i: number) => i < 3 * n - 1 ? i % n : i < 4 * n - 1 ? i - (3 * n - 1) : n - 1;
      for (let i = 0; i < all.length; i++) {
        if (all[i] !== expected(i)) assert.fail(`item ${i} is ${all[i]}, expected ${expected(i)}`);
      }
    }));
}
