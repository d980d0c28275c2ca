/**
 * Shared suite: CyberList's whole-list methods — reverse, sort (numbers,
 * strings, bigints, Dates, by field, descending, stable, mixed types
 * refused), clear, length, toArray, iteration — and copies, on one engine.
 *
 * @module
 */
import assert from "node:assert/strict";
import { WrongTypeError } from "../../mod.ts";
import { freshName } from "../_engines.ts";
import type { EngineSuite } from "../_suite.ts";

const isWrongType = (e: unknown) => e instanceof WrongTypeError && e.code === "WRONG_TYPE";

/** Registers the CyberList whole-list tests on `suite`'s engine. */
export function listWholeSuite(suite: EngineSuite): void {
  suite.test(`CyberList.reverse() reverses in place and resolves to undefined`, () =>
    suite.withList<unknown>([1, "two", { three: 3 }, null], async (l) => {
      assert.strictEqual(await l.reverse(), undefined);
      assert.deepStrictEqual(await l.toArray(), [null, { three: 3 }, "two", 1]);
    }));

  // ---- sort ----

  suite.test(`CyberList.sort() sorts numbers numerically, not lexicographically`, () =>
    suite.withList([10, 9, 1, -5, 2.5, 100, 0], async (l) => {
      assert.strictEqual(await l.sort(), undefined);
      assert.deepStrictEqual(await l.toArray(), [-5, 0, 1, 2.5, 9, 10, 100]);
    }));

  suite.test(`CyberList.sort() sorts strings by code point, astral characters after U+FF5E`, () =>
    suite.withList(["😀", "～", "b", "a", "B", "é", "", "ab"], async (l) => {
      await l.sort();
      // UTF-16 order would put "😀" (D83D DE00) before "～" (FF5E); code point order puts U+1F600 last.
      assert.deepStrictEqual(await l.toArray(), ["", "B", "a", "ab", "b", "é", "～", "😀"]);
    }));

  suite.test(`CyberList.sort() orders bigints mixed with numbers by value`, () =>
    suite.withList<number | bigint>([3n, 1, 2.5, -1n, 2n ** 70n, 0, 1e30, -(2n ** 80n)], async (l) => {
      await l.sort();
      const sorted = await l.toArray();
      assert.deepStrictEqual(sorted, [-(2n ** 80n), -1n, 0, 1, 2.5, 3n, 2n ** 70n, 1e30]);
      assert.deepStrictEqual(sorted.map((v) => typeof v), [
        "bigint",
        "bigint",
        "number",
        "number",
        "number",
        "bigint",
        "bigint",
        "number",
      ]);
    }));

  suite.test(`CyberList.sort() orders Dates by time`, () => {
    const d = (iso: string) => new Date(iso);
    return suite.withList(
      [d("2024-01-01"), d("1999-12-31"), d("2024-01-01T00:00:00.001Z"), d("1970-01-01")],
      async (l) => {
        await l.sort();
        assert.deepStrictEqual(await l.toArray(), [
          d("1970-01-01"),
          d("1999-12-31"),
          d("2024-01-01"),
          d("2024-01-01T00:00:00.001Z"),
        ]);
      },
    );
  });

  suite.test(`CyberList.sort({ by }) sorts by a dot path into each item`, () => {
    const people = [
      { name: "Ann", address: { city: "Paris" } },
      { name: "Bob", address: { city: "Berlin" } },
      { name: "Cyd", address: { city: "Oslo" } },
    ];
    return suite.withList(people, async (l) => {
      await l.sort({ by: "address.city" });
      assert.deepStrictEqual((await l.toArray()).map((p) => p.name), ["Bob", "Cyd", "Ann"]);
      await l.sort({ by: "name" });
      assert.deepStrictEqual(await l.toArray(), people);
    });
  });

  suite.test(`CyberList.sort({ descending: true }) sorts largest first`, () =>
    suite.withList([10, 9, 1, 20], async (l) => {
      await l.sort({ descending: true });
      assert.deepStrictEqual(await l.toArray(), [20, 10, 9, 1]);
    }));

  suite.test(`CyberList.sort() is stable, ascending and descending`, () => {
    const items = [
      { k: 2, id: "a" },
      { k: 1, id: "b" },
      { k: 2, id: "c" },
      { k: 1, id: "d" },
      { k: 2, id: "e" },
      { k: 0, id: "f" },
    ];
    return suite.withList(items, async (l) => {
      await l.sort({ by: "k" });
      assert.deepStrictEqual((await l.toArray()).map((x) => x.id).join(""), "fbdace");
      await l.clear();
      await l.push(...items);
      await l.sort({ by: "k", descending: true });
      assert.deepStrictEqual((await l.toArray()).map((x) => x.id).join(""), "acebdf");
    });
  });

  suite.test(`CyberList.sort() of mixed types rejects with WRONG_TYPE and leaves the list unchanged`, () =>
    suite.withProxy(async (proxy) => {
      const cases: unknown[][] = [
        [3, "a", 1],
        [2, 1, null],
        [{ a: 1 }, { a: 0 }],
        [[2], [1]],
        ["b", new Date(0), "a"],
        [2, NaN, 1],
      ];
      for (const [i, items] of cases.entries()) {
        const l = await proxy.createCyberList(freshName(`mixed${i}`), items);
        await assert.rejects(l.sort(), isWrongType, `sort of ${i}`);
        await assert.rejects(l.sort({ descending: true }), isWrongType, `descending sort of ${i}`);
        assert.deepStrictEqual(await l.toArray(), items, `list ${i} unchanged`);
      }
      const byField = [{ n: 2 }, { n: 1 }, { m: 0 }];
      const l = await proxy.createCyberList(freshName("byField"), byField);
      await assert.rejects(l.sort({ by: "n" }), isWrongType, "a missing field");
      await assert.rejects(l.sort({ by: "n.deeper" }), isWrongType, "a path through a number");
      assert.deepStrictEqual(await l.toArray(), byField);
    }));

  suite.test(`CyberList.sort() of an empty or one-item list succeeds`, () =>
    suite.withList<unknown>([], async (l) => {
      await l.sort();
      assert.deepStrictEqual(await l.toArray(), []);
      await l.push(42);
      await l.sort({ descending: true });
      assert.deepStrictEqual(await l.toArray(), [42]);
    }));

  // ---- whole list ----

  suite.test(`CyberList.clear() empties the list and resolves to undefined`, () =>
    suite.withList([1, 2, 3], async (l) => {
      assert.strictEqual(await l.clear(), undefined);
      assert.strictEqual(await l.length(), 0);
      assert.deepStrictEqual(await l.toArray(), []);
      assert.strictEqual(await l.push(4), 1);
    }));

  suite.test(`CyberList.length() and toArray() report the items`, () =>
    suite.withList<unknown>([], async (l) => {
      assert.strictEqual(await l.length(), 0);
      assert.deepStrictEqual(await l.toArray(), []);
      const items = [0, "", false, null, [], {}, 1n, new Uint8Array([1]), new Date(2)];
      await l.push(...items);
      assert.strictEqual(await l.length(), items.length);
      const got = await l.toArray();
      assert.deepStrictEqual(got, items);
      assert.strictEqual((got[7] as Uint8Array).constructor, Uint8Array);
    }));

  suite.test(`CyberList values are copies: mutating what you read does not change the table`, () =>
    suite.withList([{ a: [1] }], async (l) => {
      const read = (await l.toArray())[0];
      read.a.push(2);
      const at = await l.at(0);
      at!.a.length = 0;
      assert.deepStrictEqual(await l.toArray(), [{ a: [1] }]);
    }));

  suite.test(`for await over a CyberList of more than 1000 items yields every item in order`, () =>
    suite.withList<number>([], async (l) => {
      for (const n of [0, 1, 999, 1000, 1001, 2000, 2500]) {
        await l.clear();
        const items = Array.from({ length: n }, (_, i) => i);
        if (n > 0) await l.push(...items);
        const seen: number[] = [];
        for await (const item of l) seen.push(item);
        assert.equal(seen.length, n, `length ${n}`);
        assert.deepStrictEqual(seen, items, `items of a list of ${n}`);
      }
    }));
}
