/**
 * Shared suite: the values and keys a CyberDict must keep exactly — falsy
 * values, number and string keys, Unicode, bigints, Dates, bytes, nesting,
 * copies, 20 MB values — and the keys it refuses, on one engine.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BadRequestError } from "../../mod.ts";
import type { EngineSuite } from "../_suite.ts";

const isBadRequest = (e: unknown) => e instanceof BadRequestError && e.code === "BAD_REQUEST";

/** Registers the CyberDict value and key tests on `suite`'s engine. */
export function dictValuesSuite(suite: EngineSuite): void {
  suite.test(`CyberDict falsy values 0, "", false, null, [] and {} read back exactly`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict number key 1 and string key "1" are distinct`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict Unicode keys and values (emoji, CJK, combining marks) round-trip`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict bigint values, small and huge and negative, read back as bigints`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict Date values read back as equal Dates`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict Uint8Array values read back as a plain Uint8Array copy`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict nested objects and arrays read back deeply equal`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict values are copies: mutating what you wrote or read does not change the table`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict a 20 MB string and a 20 MB Uint8Array round-trip intact`, () =>
    suite.withDict(async (d) => {
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

  suite.test(`CyberDict keys that are not strings or finite numbers reject with BAD_REQUEST`, () =>
    suite.withDict(async (d) => {
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
