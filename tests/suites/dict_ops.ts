/**
 * Shared suite: every CyberDict method — what it returns, what it stores,
 * and its errors with their codes — on one engine.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BadRequestError, KeyNotFoundError, WrongTypeError } from "../../mod.ts";
import type { EngineSuite } from "../_suite.ts";

const isKeyNotFound = (e: unknown) => e instanceof KeyNotFoundError && e.code === "KEY_NOT_FOUND";
const isWrongType = (e: unknown) => e instanceof WrongTypeError && e.code === "WRONG_TYPE";
const isBadRequest = (e: unknown) => e instanceof BadRequestError && e.code === "BAD_REQUEST";

/** Registers the CyberDict method tests on `suite`'s engine. */
export function dictOpsSuite(suite: EngineSuite): void {
  suite.test(`CyberDict.get() of a missing key is undefined, or the default when one is given`, () =>
    suite.withDict(async (d) => {
      assert.equal(await d.get("nope"), undefined);
      assert.equal(await d.get("nope", "fallback"), "fallback");
      assert.equal(await d.get("nope", 0), 0);
      assert.equal(await d.get("nope", null), null);
      assert.deepStrictEqual(await d.get("nope", { a: [1] }), { a: [1] });
      assert.equal(
        await d.has("nope"),
        false,
        "get must not store the default",
      );
      assert.equal(await d.size(), 0);
    }));

  suite.test(`CyberDict.get() of a stored null is null, distinct from a missing key, and ignores the default`, () =>
    suite.withDict(async (d) => {
      await d.set("n", null);
      assert.strictEqual(await d.get("n"), null);
      assert.strictEqual(await d.get("n", "fallback"), null);
      assert.strictEqual(await d.get("missing"), undefined);
      assert.equal(await d.has("n"), true);
    }));

  suite.test(`CyberDict.set() stores, overwrites and resolves to undefined`, () =>
    suite.withDict(async (d) => {
      assert.strictEqual(await d.set("a", 1), undefined);
      assert.equal(await d.get("a"), 1);
      assert.strictEqual(await d.set("a", "two"), undefined);
      assert.equal(await d.get("a"), "two");
      assert.equal(await d.size(), 1);
    }));

  suite.test(`CyberDict.has() tells present from missing keys, including falsy values`, () =>
    suite.withDict(async (d) => {
      await d.set("zero", 0);
      await d.set("false", false);
      assert.equal(await d.has("zero"), true);
      assert.equal(await d.has("false"), true);
      assert.equal(await d.has("other"), false);
    }));

  suite.test(`CyberDict.delete() resolves to whether the key existed and removes it`, () =>
    suite.withDict(async (d) => {
      await d.set("a", 1);
      assert.strictEqual(await d.delete("a"), true);
      assert.strictEqual(await d.delete("a"), false);
      assert.strictEqual(await d.delete("never"), false);
      assert.equal(await d.has("a"), false);
      assert.equal(await d.size(), 0);
    }));

  suite.test(`CyberDict.size() counts the entries`, () =>
    suite.withDict(async (d) => {
      assert.strictEqual(await d.size(), 0);
      for (let i = 0; i < 5; i++) await d.set(`k${i}`, i);
      assert.strictEqual(await d.size(), 5);
      await d.set("k0", "again");
      assert.strictEqual(await d.size(), 5);
      await d.delete("k1");
      assert.strictEqual(await d.size(), 4);
    }));

  suite.test(`CyberDict.keys(), values() and entries() are in insertion order, overwrites keep the position`, () =>
    suite.withDict(async (d) => {
      await d.set("c", 3);
      await d.set("a", 1);
      await d.set("b", 2);
      await d.set(7, "seven");
      await d.set("a", 10); // overwrite: stays second
      await d.delete("c");
      await d.set("c", 30); // re-insert: goes last
      assert.deepStrictEqual(await d.keys(), ["a", "b", 7, "c"]);
      assert.deepStrictEqual(await d.values(), [10, 2, "seven", 30]);
      assert.deepStrictEqual(await d.entries(), [
        ["a", 10],
        ["b", 2],
        [7, "seven"],
        ["c", 30],
      ]);
    }));

  suite.test(`CyberDict.keys(), values() and entries() of an empty dict are empty arrays`, () =>
    suite.withDict(async (d) => {
      assert.deepStrictEqual(await d.keys(), []);
      assert.deepStrictEqual(await d.values(), []);
      assert.deepStrictEqual(await d.entries(), []);
    }));

  suite.test(`CyberDict.clear() removes every entry and resolves to undefined`, () =>
    suite.withDict(async (d) => {
      await d.update({ a: 1, b: 2, c: 3 });
      assert.strictEqual(await d.clear(), undefined);
      assert.equal(await d.size(), 0);
      assert.deepStrictEqual(await d.entries(), []);
      await d.set("x", 1);
      assert.deepStrictEqual(await d.entries(), [["x", 1]]);
    }));

  suite.test(`CyberDict.setDefault() stores a missing key and resolves to the value now stored`, () =>
    suite.withDict(async (d) => {
      assert.deepStrictEqual(await d.setDefault("a", { n: 1 }), { n: 1 });
      assert.deepStrictEqual(await d.get("a"), { n: 1 });
      assert.deepStrictEqual(await d.setDefault("a", { n: 2 }), { n: 1 });
      assert.deepStrictEqual(await d.get("a"), { n: 1 });
      await d.set("zero", 0);
      assert.strictEqual(await d.setDefault("zero", 5), 0);
      await d.set("nul", null);
      assert.strictEqual(await d.setDefault("nul", 5), null);
      assert.strictEqual(await d.get("nul"), null);
    }));

  suite.test(`CyberDict.update() takes an object, a Map or entries, and resolves to undefined`, () =>
    suite.withDict(async (d) => {
      assert.strictEqual(await d.update({ a: 1, b: 2 }), undefined);
      await d.update(
        new Map<string | number, unknown>([[1, "one"], ["b", 20]]),
      );
      await d.update([["c", 3], [2, [2]]]);
      function* pairs(): Generator<[string, unknown]> {
        yield ["g", "generated"];
      }
      await d.update(pairs());
      assert.deepStrictEqual(await d.entries(), [
        ["a", 1],
        ["b", 20],
        [1, "one"],
        ["c", 3],
        [2, [2]],
        ["g", "generated"],
      ]);
    }));

  suite.test(`CyberDict.update() with a bad key rejects with BAD_REQUEST and changes nothing`, () =>
    suite.withDict(async (d) => {
      await d.set("a", 1);
      await assert.rejects(
        d.update([["a", 2], ["b", 3], [{ bad: true } as never, 4]]),
        isBadRequest,
      );
      assert.deepStrictEqual(await d.entries(), [["a", 1]]);
    }));

  suite.test(`CyberDict.update() with 20,000 entries (a request decoded pair by pair) stores them all in order`, () =>
    suite.withDict(async (d) => {
      const entries: [string | number, unknown][] = [];
      for (let i = 0; i < 20_000; i++) entries.push([i % 3 ? `k${i}` : i, i % 2 ? { i, tag: "x".repeat(i % 40) } : i]);
      await d.set("k1", "first"); // keeps its place ahead of the batch
      await d.update(entries);
      assert.equal(await d.size(), 20_000);
      const keys = await d.keys();
      assert.deepEqual(keys[0], "k1");
      assert.deepEqual(keys.slice(1), entries.map(([k]) => k).filter((k) => k !== "k1"));
      assert.deepEqual(await d.get("k19999"), { i: 19_999, tag: "x".repeat(19_999 % 40) });
      assert.equal(await d.get(19_998), 19_998);
    }));

  suite.test(`CyberDict.update() with 20,000 entries and one bad key at the end rejects with BAD_REQUEST and changes nothing`, () =>
    suite.withDict(async (d) => {
      await d.set("kept", 1);
      const entries: [unknown, unknown][] = [];
      for (let i = 0; i < 20_000; i++) entries.push([`k${i}`, "v".repeat(20)]);
      entries.push([{ bad: true }, 1]);
      await assert.rejects(d.update(entries as [string, unknown][]), isBadRequest);
      assert.equal(await d.size(), 1);
      assert.equal(await d.has("k0"), false);
    }));

  suite.test(`CyberDict.pop() removes a key and resolves to its value`, () =>
    suite.withDict(async (d) => {
      await d.update({ a: { deep: [1, 2] }, b: 0, c: null });
      assert.deepStrictEqual(await d.pop("a"), { deep: [1, 2] });
      assert.strictEqual(await d.pop("b"), 0);
      assert.strictEqual(await d.pop("c", "fallback"), null);
      assert.equal(await d.size(), 0);
    }));

  suite.test(`CyberDict.pop() of a missing key without a default rejects with KeyNotFoundError`, () =>
    suite.withDict(async (d) => {
      await d.set("a", 1);
      await assert.rejects(d.pop("missing"), isKeyNotFound);
      assert.deepStrictEqual(await d.entries(), [["a", 1]]);
    }));

  suite.test(`CyberDict.pop() of a missing key with a default resolves to the default, even an explicit undefined`, () =>
    suite.withDict(async (d) => {
      assert.equal(await d.pop("missing", "fallback"), "fallback");
      assert.strictEqual(await d.pop("missing", 0), 0);
      assert.strictEqual(await d.pop("missing", null), null);
      assert.strictEqual(await d.pop("missing", undefined), undefined);
    }));

  suite.test(`CyberDict.popItem() removes the last inserted entry, LIFO across deletes and re-inserts`, () =>
    suite.withDict(async (d) => {
      await d.set("a", 1);
      await d.set("b", 2);
      await d.set("c", 3);
      await d.set(4, 4);
      await d.delete("b");
      await d.set("b", 22); // re-inserted: now last
      await d.set("a", 11); // overwritten: keeps its place
      await d.delete(4);
      assert.deepStrictEqual(await d.popItem(), ["b", 22]);
      assert.deepStrictEqual(await d.popItem(), ["c", 3]);
      await d.set("d", 4);
      assert.deepStrictEqual(await d.popItem(), ["d", 4]);
      assert.deepStrictEqual(await d.popItem(), ["a", 11]);
      await assert.rejects(d.popItem(), isKeyNotFound);
    }));

  suite.test(`CyberDict.popItem() stays LIFO after many deletes`, () =>
    suite.withDict(async (d) => {
      for (let i = 0; i < 200; i++) await d.set(i, i);
      for (let i = 0; i < 200; i++) if (i % 10 !== 3) await d.delete(i);
      await d.set(3, "re-set");
      await d.set("new", true);
      const popped = [];
      while ((await d.size()) > 0) popped.push(await d.popItem());
      assert.deepStrictEqual(popped, [
        ["new", true],
        ...[193, 183, 173, 163, 153, 143, 133, 123, 113, 103, 93, 83, 73, 63]
          .concat([53, 43, 33, 23, 13])
          .map((i) => [i, i]),
        [3, "re-set"],
      ]);
    }));

  suite.test(`CyberDict.popItem() on an empty dict rejects with KeyNotFoundError`, () =>
    suite.withDict(async (d) => {
      await assert.rejects(d.popItem(), isKeyNotFound);
      await d.set("a", 1);
      await d.clear();
      await assert.rejects(d.popItem(), isKeyNotFound);
    }));

  suite.test(`CyberDict.increment() starts a missing key at 0 and resolves to the new number`, () =>
    suite.withDict(async (d) => {
      assert.strictEqual(await d.increment("n"), 1);
      assert.strictEqual(await d.increment("n"), 2);
      assert.strictEqual(await d.increment("n", 10), 12);
      assert.strictEqual(await d.increment("n", -20), -8);
      assert.strictEqual(await d.increment("n", 0.5), -7.5);
      assert.strictEqual(await d.get("n"), -7.5);
      assert.strictEqual(await d.increment("m", -3), -3);
      await d.set("z", 0);
      assert.strictEqual(await d.increment("z", 0), 0);
    }));

  suite.test(`CyberDict.increment() adds a bigint to a bigint`, () =>
    suite.withDict(async (d) => {
      assert.strictEqual(await d.increment("b", 5n), 5n);
      await d.set("huge", 2n ** 200n);
      assert.strictEqual(await d.increment("huge", 1n), 2n ** 200n + 1n);
      assert.strictEqual(
        await d.increment("huge", -(2n ** 201n)),
        -(2n ** 200n) + 1n,
      );
      assert.strictEqual(await d.get("huge"), -(2n ** 200n) + 1n);
    }));

  suite.test(`CyberDict.increment() of a non-number rejects with WRONG_TYPE and changes nothing`, () =>
    suite.withDict(async (d) => {
      await d.update({ s: "text", n: null, o: { a: 1 }, b: 5n, x: 5 });
      await assert.rejects(d.increment("s"), isWrongType);
      await assert.rejects(d.increment("n"), isWrongType);
      await assert.rejects(d.increment("o", 2), isWrongType);
      await assert.rejects(d.increment("b"), isWrongType);
      await assert.rejects(d.increment("x", 1n), isWrongType);
      assert.deepStrictEqual(await d.toObject(), {
        s: "text",
        n: null,
        o: { a: 1 },
        b: 5n,
        x: 5,
      });
    }));

  suite.test(`CyberDict.toObject() gives a plain object, number keys as strings`, () =>
    suite.withDict(async (d) => {
      await d.update([["a", 1], [2, "two"], ["c", { d: [] }]]);
      const object = await d.toObject();
      assert.equal(Object.getPrototypeOf(object), Object.prototype);
      assert.deepStrictEqual(object, { a: 1, 2: "two", c: { d: [] } });
      assert.deepStrictEqual(Object.keys(object).sort(), ["2", "a", "c"]);
    }));

  suite.test(`CyberDict.toMap() gives a Map in insertion order with number keys kept`, () =>
    suite.withDict(async (d) => {
      await d.update([["a", 1], [2, "two"], ["2", "string two"]]);
      const map = await d.toMap();
      assert.ok(map instanceof Map);
      assert.deepStrictEqual(
        map,
        new Map<string | number, unknown>([
          ["a", 1],
          [2, "two"],
          ["2", "string two"],
        ]),
      );
    }));

  suite.test(`for await over a CyberDict yields every [key, value] in insertion order`, () =>
    suite.withDict(async (d) => {
      await d.update([["x", 1], [0, false], ["y", { z: null }]]);
      const seen = [];
      for await (const entry of d) seen.push(entry);
      assert.deepStrictEqual(seen, [["x", 1], [0, false], ["y", { z: null }]]);
      await d.clear();
      for await (const _ of d) assert.fail("an empty dict yields nothing");
    }));
}
