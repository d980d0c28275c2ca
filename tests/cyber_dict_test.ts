/**
 * CyberDict against a real server: every method, the values that must read
 * back exactly, and the errors with their codes. Data suites run under every
 * transport in {@link TRANSPORTS}.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BadRequestError, type CyberDict, KeyNotFoundError, type StartOptions, WrongTypeError } from "../mod.ts";
import { startServer, TRANSPORTS } from "./_server.ts";

/** Starts a server, creates an empty dict "d" on a fresh proxy, runs `body`, and stops everything. */
async function withDict(
  start: StartOptions,
  body: (dict: CyberDict) => Promise<void>,
): Promise<void> {
  const fx = await startServer(start);
  try {
    await using proxy = await fx.client.getProxy().connect();
    await body(await proxy.createCyberDict("d"));
  } finally {
    await fx.close();
  }
}

const isKeyNotFound = (e: unknown) => e instanceof KeyNotFoundError && e.code === "KEY_NOT_FOUND";
const isWrongType = (e: unknown) => e instanceof WrongTypeError && e.code === "WRONG_TYPE";
const isBadRequest = (e: unknown) => e instanceof BadRequestError && e.code === "BAD_REQUEST";

for (const t of TRANSPORTS) {
  test(`${t.name}: CyberDict.get() of a missing key is undefined, or the default when one is given`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.get() of a stored null is null, distinct from a missing key, and ignores the default`, () =>
    withDict(t.start, async (d) => {
      await d.set("n", null);
      assert.strictEqual(await d.get("n"), null);
      assert.strictEqual(await d.get("n", "fallback"), null);
      assert.strictEqual(await d.get("missing"), undefined);
      assert.equal(await d.has("n"), true);
    }));

  test(`${t.name}: CyberDict.set() stores, overwrites and resolves to undefined`, () =>
    withDict(t.start, async (d) => {
      assert.strictEqual(await d.set("a", 1), undefined);
      assert.equal(await d.get("a"), 1);
      assert.strictEqual(await d.set("a", "two"), undefined);
      assert.equal(await d.get("a"), "two");
      assert.equal(await d.size(), 1);
    }));

  test(`${t.name}: CyberDict.has() tells present from missing keys, including falsy values`, () =>
    withDict(t.start, async (d) => {
      await d.set("zero", 0);
      await d.set("false", false);
      assert.equal(await d.has("zero"), true);
      assert.equal(await d.has("false"), true);
      assert.equal(await d.has("other"), false);
    }));

  test(`${t.name}: CyberDict.delete() resolves to whether the key existed and removes it`, () =>
    withDict(t.start, async (d) => {
      await d.set("a", 1);
      assert.strictEqual(await d.delete("a"), true);
      assert.strictEqual(await d.delete("a"), false);
      assert.strictEqual(await d.delete("never"), false);
      assert.equal(await d.has("a"), false);
      assert.equal(await d.size(), 0);
    }));

  test(`${t.name}: CyberDict.size() counts the entries`, () =>
    withDict(t.start, async (d) => {
      assert.strictEqual(await d.size(), 0);
      for (let i = 0; i < 5; i++) await d.set(`k${i}`, i);
      assert.strictEqual(await d.size(), 5);
      await d.set("k0", "again");
      assert.strictEqual(await d.size(), 5);
      await d.delete("k1");
      assert.strictEqual(await d.size(), 4);
    }));

  test(`${t.name}: CyberDict.keys(), values() and entries() are in insertion order, overwrites keep the position`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.keys(), values() and entries() of an empty dict are empty arrays`, () =>
    withDict(t.start, async (d) => {
      assert.deepStrictEqual(await d.keys(), []);
      assert.deepStrictEqual(await d.values(), []);
      assert.deepStrictEqual(await d.entries(), []);
    }));

  test(`${t.name}: CyberDict.clear() removes every entry and resolves to undefined`, () =>
    withDict(t.start, async (d) => {
      await d.update({ a: 1, b: 2, c: 3 });
      assert.strictEqual(await d.clear(), undefined);
      assert.equal(await d.size(), 0);
      assert.deepStrictEqual(await d.entries(), []);
      await d.set("x", 1);
      assert.deepStrictEqual(await d.entries(), [["x", 1]]);
    }));

  test(`${t.name}: CyberDict.setDefault() stores a missing key and resolves to the value now stored`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.update() takes an object, a Map or entries, and resolves to undefined`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.update() with a bad key rejects with BAD_REQUEST and changes nothing`, () =>
    withDict(t.start, async (d) => {
      await d.set("a", 1);
      await assert.rejects(
        d.update([["a", 2], ["b", 3], [{ bad: true } as never, 4]]),
        isBadRequest,
      );
      assert.deepStrictEqual(await d.entries(), [["a", 1]]);
    }));

  test(`${t.name}: CyberDict.update() with 20,000 entries (a request decoded pair by pair) stores them all in order`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.update() with 20,000 entries and one bad key at the end rejects with BAD_REQUEST and changes nothing`, () =>
    withDict(t.start, async (d) => {
      await d.set("kept", 1);
      const entries: [unknown, unknown][] = [];
      for (let i = 0; i < 20_000; i++) entries.push([`k${i}`, "v".repeat(20)]);
      entries.push([{ bad: true }, 1]);
      await assert.rejects(d.update(entries as [string, unknown][]), isBadRequest);
      assert.equal(await d.size(), 1);
      assert.equal(await d.has("k0"), false);
    }));

  test(`${t.name}: CyberDict.pop() removes a key and resolves to its value`, () =>
    withDict(t.start, async (d) => {
      await d.update({ a: { deep: [1, 2] }, b: 0, c: null });
      assert.deepStrictEqual(await d.pop("a"), { deep: [1, 2] });
      assert.strictEqual(await d.pop("b"), 0);
      assert.strictEqual(await d.pop("c", "fallback"), null);
      assert.equal(await d.size(), 0);
    }));

  test(`${t.name}: CyberDict.pop() of a missing key without a default rejects with KeyNotFoundError`, () =>
    withDict(t.start, async (d) => {
      await d.set("a", 1);
      await assert.rejects(d.pop("missing"), isKeyNotFound);
      assert.deepStrictEqual(await d.entries(), [["a", 1]]);
    }));

  test(`${t.name}: CyberDict.pop() of a missing key with a default resolves to the default, even an explicit undefined`, () =>
    withDict(t.start, async (d) => {
      assert.equal(await d.pop("missing", "fallback"), "fallback");
      assert.strictEqual(await d.pop("missing", 0), 0);
      assert.strictEqual(await d.pop("missing", null), null);
      assert.strictEqual(await d.pop("missing", undefined), undefined);
    }));

  test(`${t.name}: CyberDict.popItem() removes the last inserted entry, LIFO across deletes and re-inserts`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.popItem() stays LIFO after many deletes`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.popItem() on an empty dict rejects with KeyNotFoundError`, () =>
    withDict(t.start, async (d) => {
      await assert.rejects(d.popItem(), isKeyNotFound);
      await d.set("a", 1);
      await d.clear();
      await assert.rejects(d.popItem(), isKeyNotFound);
    }));

  test(`${t.name}: CyberDict.increment() starts a missing key at 0 and resolves to the new number`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.increment() adds a bigint to a bigint`, () =>
    withDict(t.start, async (d) => {
      assert.strictEqual(await d.increment("b", 5n), 5n);
      await d.set("huge", 2n ** 200n);
      assert.strictEqual(await d.increment("huge", 1n), 2n ** 200n + 1n);
      assert.strictEqual(
        await d.increment("huge", -(2n ** 201n)),
        -(2n ** 200n) + 1n,
      );
      assert.strictEqual(await d.get("huge"), -(2n ** 200n) + 1n);
    }));

  test(`${t.name}: CyberDict.increment() of a non-number rejects with WRONG_TYPE and changes nothing`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: CyberDict.toObject() gives a plain object, number keys as strings`, () =>
    withDict(t.start, async (d) => {
      await d.update([["a", 1], [2, "two"], ["c", { d: [] }]]);
      const object = await d.toObject();
      assert.equal(Object.getPrototypeOf(object), Object.prototype);
      assert.deepStrictEqual(object, { a: 1, 2: "two", c: { d: [] } });
      assert.deepStrictEqual(Object.keys(object).sort(), ["2", "a", "c"]);
    }));

  test(`${t.name}: CyberDict.toMap() gives a Map in insertion order with number keys kept`, () =>
    withDict(t.start, async (d) => {
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

  test(`${t.name}: for await over a CyberDict yields every [key, value] in insertion order`, () =>
    withDict(t.start, async (d) => {
      await d.update([["x", 1], [0, false], ["y", { z: null }]]);
      const seen = [];
      for await (const entry of d) seen.push(entry);
      assert.deepStrictEqual(seen, [["x", 1], [0, false], ["y", { z: null }]]);
      await d.clear();
      for await (const _ of d) assert.fail("an empty dict yields nothing");
    }));

  test(`${t.name}: CyberDict falsy values 0, "", false, null, [] and {} read back exactly`, () =>
    withDict(t.start, async (d) => {
      const falsy: [string, unknown, string][] = [
        ["zero", 0, "number"],
        ["empty", "", "string"],
        ["false", false, "boolean"],
        ["null", null, "object"],
        ["array", [], "object"],
        ["object", {}, "object"],
        ["zeroBig", 0n, "bigint"],
      ];
      for (const [k, v] of falsy) await d.set(k, v);
      for (const [k, v, type] of falsy) {
        const got = await d.get(k, "DEFAULT");
        assert.deepStrictEqual(got, v, `value under ${k}`);
        assert.equal(typeof got, type, `type under ${k}`);
      }
      assert.ok(Array.isArray(await d.get("array")));
      assert.ok(!Array.isArray(await d.get("object")));
      assert.deepStrictEqual(await d.values(), falsy.map(([, v]) => v));
    }));

  test(`${t.name}: CyberDict number key 1 and string key "1" are distinct`, () =>
    withDict(t.start, async (d) => {
      await d.set(1, "number");
      await d.set("1", "string");
      assert.equal(await d.size(), 2);
      assert.equal(await d.get(1), "number");
      assert.equal(await d.get("1"), "string");
      const keys = await d.keys();
      assert.deepStrictEqual(keys, [1, "1"]);
      assert.deepStrictEqual(keys.map((k) => typeof k), ["number", "string"]);
      assert.equal(await d.delete(1), true);
      assert.equal(await d.has(1), false);
      assert.equal(await d.has("1"), true);
      await d.set(1.5, "float");
      await d.set(-2, "negative");
      assert.equal(await d.get(1.5), "float");
      assert.equal(await d.get(-2), "negative");
      assert.equal(await d.get("1.5"), undefined);
    }));

  test(`${t.name}: CyberDict Unicode keys and values (emoji, CJK, combining marks) round-trip`, () =>
    withDict(t.start, async (d) => {
      const composed = "\u00e9"; // é as one code point
      const decomposed = "e\u0301"; // e + combining acute accent
      const pairs: [string, string][] = [
        ["😀", "🎉👨‍👩‍👧‍👦"],
        ["日本語", "中文字符 한국어"],
        [composed, "composed"],
        [decomposed, "decomposed"],
        ["Z̤͔ͧ̑̓ä͖̭̈̇", "zalgo ̸̡̢"],
        ["\u{10FFFF}", "\u{1F600}\u{0}end"],
      ];
      for (const [k, v] of pairs) await d.set(k, v);
      assert.equal(
        await d.size(),
        pairs.length,
        "é and e+◌́ are different keys",
      );
      for (const [k, v] of pairs) assert.equal(await d.get(k), v);
      assert.deepStrictEqual(await d.entries(), pairs);
    }));

  test(`${t.name}: CyberDict bigint values, small and huge and negative, read back as bigints`, () =>
    withDict(t.start, async (d) => {
      const values = [
        0n,
        1n,
        -1n,
        5n,
        2n ** 63n - 1n,
        2n ** 64n,
        2n ** 200n,
        -(2n ** 200n),
        -(3n ** 500n),
      ];
      for (const [i, v] of values.entries()) await d.set(i, v);
      for (const [i, v] of values.entries()) {
        const got = await d.get(i);
        assert.equal(typeof got, "bigint", `value ${v}`);
        assert.strictEqual(got, v);
      }
      await d.set("number", 5);
      assert.equal(typeof await d.get("number"), "number");
      await d.set("large number", 2 ** 40);
      assert.strictEqual(await d.get("large number"), 2 ** 40);
    }));

  test(`${t.name}: CyberDict Date values read back as equal Dates`, () =>
    withDict(t.start, async (d) => {
      const dates = [
        new Date("2024-02-29T12:34:56.789Z"),
        new Date(0),
        new Date("1901-01-01T00:00:00.001Z"),
        new Date(8.64e15),
      ];
      for (const [i, v] of dates.entries()) await d.set(i, v);
      for (const [i, v] of dates.entries()) {
        const got = await d.get(i);
        assert.ok(got instanceof Date, `value ${i} is a Date`);
        assert.equal(got.getTime(), v.getTime());
      }
      await d.set("nested", { when: dates[0] });
      assert.deepStrictEqual(await d.get("nested"), { when: dates[0] });
    }));

  test(`${t.name}: CyberDict Uint8Array values read back as a plain Uint8Array copy`, () =>
    withDict(t.start, async (d) => {
      const bytes = new Uint8Array([0, 1, 2, 254, 255]);
      await d.set("b", bytes);
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      await d.set("view", backing.subarray(2, 5));
      await d.set("empty", new Uint8Array());
      const got = await d.get("b");
      assert.ok(got instanceof Uint8Array);
      assert.strictEqual(got.constructor, Uint8Array, "not a Buffer");
      assert.deepStrictEqual(got, bytes);
      const view = await d.get("view") as Uint8Array;
      assert.strictEqual(view.constructor, Uint8Array);
      assert.deepStrictEqual(view, new Uint8Array([1, 2, 3]));
      assert.equal(view.byteOffset, 0);
      assert.equal(
        view.buffer.byteLength,
        3,
        "a copy, not a view of a network buffer",
      );
      assert.deepStrictEqual(await d.get("empty"), new Uint8Array());
      const nested = { data: [bytes] };
      await d.set("nested", nested);
      const gotNested = await d.get("nested") as typeof nested;
      assert.strictEqual(gotNested.data[0].constructor, Uint8Array);
      assert.deepStrictEqual(gotNested, nested);
    }));

  test(`${t.name}: CyberDict nested objects and arrays read back deeply equal`, () =>
    withDict(t.start, async (d) => {
      const value = {
        name: "root",
        list: [1, "two", [3, [4, [5, []]]], { six: 6 }],
        map: { a: { b: { c: { d: null } } } },
        flags: [true, false],
        empty: { arr: [], obj: {} },
        mixed: [0, "", false, null, 1n, new Date(1), new Uint8Array([7])],
      };
      await d.set("v", value);
      assert.deepStrictEqual(await d.get("v"), value);
      await d.set("top-array", [[[[[]]]]]);
      assert.deepStrictEqual(await d.get("top-array"), [[[[[]]]]]);
    }));

  test(`${t.name}: CyberDict values are copies: mutating what you wrote or read does not change the table`, () =>
    withDict(t.start, async (d) => {
      const written = { list: [1, 2], inner: { x: 1 } };
      await d.set("v", written);
      written.list.push(3);
      written.inner.x = 99;
      const read = await d.get("v") as typeof written;
      assert.deepStrictEqual(read, { list: [1, 2], inner: { x: 1 } });
      read.list.push(4);
      read.inner.x = 42;
      assert.deepStrictEqual(await d.get("v"), {
        list: [1, 2],
        inner: { x: 1 },
      });
      await d.set("bytes", new Uint8Array([1, 2, 3]));
      const bytes = await d.get("bytes") as Uint8Array;
      bytes[0] = 100;
      assert.deepStrictEqual(await d.get("bytes"), new Uint8Array([1, 2, 3]));
      const entries = await d.entries();
      (entries[0][1] as typeof written).list.length = 0;
      assert.deepStrictEqual(await d.get("v"), {
        list: [1, 2],
        inner: { x: 1 },
      });
    }));

  test(`${t.name}: CyberDict a 20 MB string and a 20 MB Uint8Array round-trip intact`, () =>
    withDict(t.start, async (d) => {
      const size = 20 * 1024 * 1024;
      const text = "abcdefghij".repeat(size / 10 + 1).slice(0, size - 2) + "é";
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 12)) & 0xff;
      await d.set("text", text);
      await d.set("bytes", bytes);
      const gotText = await d.get("text") as string;
      assert.equal(gotText.length, text.length);
      assert.ok(gotText === text, "the 20 MB string differs");
      const gotBytes = await d.get("bytes") as Uint8Array;
      assert.strictEqual(gotBytes.constructor, Uint8Array);
      assert.equal(gotBytes.length, size);
      let firstDiff = -1;
      for (let i = 0; i < size; i++) {
        if (gotBytes[i] !== bytes[i]) {
          firstDiff = i;
          break;
        }
      }
      assert.equal(firstDiff, -1, "the 20 MB Uint8Array differs");
    }));

  test(`${t.name}: CyberDict keys that are not strings or finite numbers reject with BAD_REQUEST`, () =>
    withDict(t.start, async (d) => {
      const bad = [{ a: 1 }, [1], null, true, NaN, Infinity, 1n, new Date(0)];
      for (const key of bad) {
        await assert.rejects(
          d.set(key as never, 1),
          isBadRequest,
          `set ${String(key)}`,
        );
        await assert.rejects(
          d.get(key as never),
          isBadRequest,
          `get ${String(key)}`,
        );
        await assert.rejects(
          d.has(key as never),
          isBadRequest,
          `has ${String(key)}`,
        );
        await assert.rejects(
          d.delete(key as never),
          isBadRequest,
          `delete ${String(key)}`,
        );
        await assert.rejects(
          d.pop(key as never, 0),
          isBadRequest,
          `pop ${String(key)}`,
        );
        await assert.rejects(
          d.increment(key as never),
          isBadRequest,
          `increment ${String(key)}`,
        );
      }
      assert.equal(await d.size(), 0);
      await d.set("still", "works");
      assert.equal(await d.get("still"), "works");
    }));
}
