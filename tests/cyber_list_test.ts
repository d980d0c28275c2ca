/**
 * CyberList against a real server: every method, sorting, the table
 * operations of a proxy, and proxy behaviour (closing, pipelined order).
 * Data suites run under every transport in {@link TRANSPORTS}.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type CyberList,
  IndexOutOfRangeError,
  NoSuchTableError,
  type Proxy,
  ProxyClosedError,
  type StartOptions,
  TableExistsError,
  ValueNotFoundError,
  WrongTypeError,
} from "../mod.ts";
import { startServer, TRANSPORTS } from "./_server.ts";

/** Starts a server, connects a proxy, runs `body`, and stops everything. */
async function withProxy(
  start: StartOptions,
  body: (proxy: Proxy) => Promise<void>,
): Promise<void> {
  const fx = await startServer(start);
  try {
    await using proxy = await fx.client.getProxy().connect();
    await body(proxy);
  } finally {
    await fx.close();
  }
}

/** Like {@link withProxy}, with a list "l" holding `initial`. */
function withList<T = unknown>(
  start: StartOptions,
  initial: T[],
  body: (list: CyberList<T>) => Promise<void>,
): Promise<void> {
  return withProxy(start, async (proxy) => body(await proxy.createCyberList<T>("l", initial)));
}

const isIndexOutOfRange = (e: unknown) => e instanceof IndexOutOfRangeError && e.code === "INDEX_OUT_OF_RANGE";
const isValueNotFound = (e: unknown) => e instanceof ValueNotFoundError && e.code === "VALUE_NOT_FOUND";
const isWrongType = (e: unknown) => e instanceof WrongTypeError && e.code === "WRONG_TYPE";
const isNoSuchTable = (e: unknown) => e instanceof NoSuchTableError && e.code === "NO_SUCH_TABLE";
const isTableExists = (e: unknown) => e instanceof TableExistsError && e.code === "TABLE_EXISTS";
const isProxyClosed = (e: unknown) => e instanceof ProxyClosedError && e.code === "PROXY_CLOSED";

for (const t of TRANSPORTS) {
  // ---- reading and writing by index ----

  test(`${t.name}: CyberList.at() reads by index, negative from the end, undefined out of range`, () =>
    withList(t.start, [10, 20, 30], async (l) => {
      assert.equal(await l.at(0), 10);
      assert.equal(await l.at(2), 30);
      assert.equal(await l.at(-1), 30);
      assert.equal(await l.at(-3), 10);
      assert.strictEqual(await l.at(3), undefined);
      assert.strictEqual(await l.at(-4), undefined);
      assert.strictEqual(await l.at(1000), undefined);
    }));

  test(`${t.name}: CyberList.at() reads stored falsy values exactly, distinct from out of range`, () =>
    withList<unknown>(t.start, [0, "", false, null, [], {}], async (l) => {
      assert.strictEqual(await l.at(0), 0);
      assert.strictEqual(await l.at(1), "");
      assert.strictEqual(await l.at(2), false);
      assert.strictEqual(await l.at(3), null);
      assert.deepStrictEqual(await l.at(4), []);
      assert.deepStrictEqual(await l.at(5), {});
      assert.strictEqual(await l.at(6), undefined);
    }));

  test(`${t.name}: CyberList.set() replaces by index, negative from the end, and resolves to undefined`, () =>
    withList(t.start, ["a", "b", "c"], async (l) => {
      assert.strictEqual(await l.set(0, "A"), undefined);
      await l.set(-1, "C");
      await l.set(-2, "B");
      assert.deepStrictEqual(await l.toArray(), ["A", "B", "C"]);
    }));

  test(`${t.name}: CyberList.set() out of range rejects with INDEX_OUT_OF_RANGE and changes nothing`, () =>
    withList(t.start, ["a", "b", "c"], async (l) => {
      await assert.rejects(l.set(3, "x"), isIndexOutOfRange);
      await assert.rejects(l.set(-4, "x"), isIndexOutOfRange);
      await assert.rejects(l.set(100, "x"), isIndexOutOfRange);
      assert.deepStrictEqual(await l.toArray(), ["a", "b", "c"]);
      await l.clear();
      await assert.rejects(l.set(0, "x"), isIndexOutOfRange);
      assert.deepStrictEqual(await l.toArray(), []);
    }));

  // ---- adding and removing at the ends ----

  test(`${t.name}: CyberList.push() appends and resolves to the new length`, () =>
    withList<unknown>(t.start, [], async (l) => {
      assert.strictEqual(await l.push("a"), 1);
      assert.strictEqual(await l.push("b", "c", { d: 1 }), 4);
      assert.strictEqual(await l.push(), 4);
      assert.deepStrictEqual(await l.toArray(), ["a", "b", "c", { d: 1 }]);
    }));

  test(`${t.name}: CyberList.unshift() prepends in argument order and resolves to the new length`, () =>
    withList(t.start, [3], async (l) => {
      assert.strictEqual(await l.unshift(1, 2), 3);
      assert.strictEqual(await l.unshift(0), 4);
      assert.strictEqual(await l.unshift(), 4);
      assert.deepStrictEqual(await l.toArray(), [0, 1, 2, 3]);
    }));

  test(`${t.name}: CyberList.pop() removes and resolves to the last item`, () =>
    withList<unknown>(t.start, [1, null, { a: [2] }], async (l) => {
      assert.deepStrictEqual(await l.pop(), { a: [2] });
      assert.strictEqual(await l.pop(), null, "a stored null is not an empty list");
      assert.strictEqual(await l.pop(), 1);
      assert.strictEqual(await l.length(), 0);
    }));

  test(`${t.name}: CyberList.pop() on an empty list resolves to undefined`, () =>
    withList(t.start, [], async (l) => {
      assert.strictEqual(await l.pop(), undefined);
      assert.strictEqual(await l.length(), 0);
    }));

  test(`${t.name}: CyberList.pop(i) removes at an index, negative from the end`, () =>
    withList(t.start, ["a", "b", "c", "d", "e"], async (l) => {
      assert.equal(await l.pop(1), "b");
      assert.equal(await l.pop(-2), "d");
      assert.equal(await l.pop(0), "a");
      assert.equal(await l.pop(-1), "e");
      assert.deepStrictEqual(await l.toArray(), ["c"]);
    }));

  test(`${t.name}: CyberList.pop(i) out of range rejects with INDEX_OUT_OF_RANGE and changes nothing`, () =>
    withList(t.start, ["a", "b"], async (l) => {
      await assert.rejects(l.pop(2), isIndexOutOfRange);
      await assert.rejects(l.pop(-3), isIndexOutOfRange);
      assert.deepStrictEqual(await l.toArray(), ["a", "b"]);
      await l.clear();
      await assert.rejects(l.pop(0), isIndexOutOfRange);
      await assert.rejects(l.pop(-1), isIndexOutOfRange);
    }));

  test(`${t.name}: CyberList.shift() removes and resolves to the first item, undefined when empty`, () =>
    withList<unknown>(t.start, [0, "x"], async (l) => {
      assert.strictEqual(await l.shift(), 0);
      assert.strictEqual(await l.shift(), "x");
      assert.strictEqual(await l.shift(), undefined);
      assert.strictEqual(await l.length(), 0);
    }));

  // ---- Python list methods ----

  test(`${t.name}: CyberList.insert() inserts before an index, clamped like Python's list.insert`, () =>
    withList(t.start, [1, 2, 3], async (l) => {
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

  test(`${t.name}: CyberList.insert() into an empty list at any index appends`, () =>
    withList<string>(t.start, [], async (l) => {
      await l.insert(-5, "a");
      await l.insert(5, "b");
      assert.deepStrictEqual(await l.toArray(), ["a", "b"]);
    }));

  test(`${t.name}: CyberList.remove() removes the first deeply equal item and resolves to undefined`, () =>
    withList<unknown>(t.start, [1, { a: 1 }, [1, 2], { a: 1 }, { b: 2, a: 1 }], async (l) => {
      assert.strictEqual(await l.remove({ a: 1 }), undefined);
      assert.deepStrictEqual(await l.toArray(), [1, [1, 2], { a: 1 }, { b: 2, a: 1 }]);
      await l.remove([1, 2]);
      await l.remove({ a: 1, b: 2 }); // key order does not matter
      assert.deepStrictEqual(await l.toArray(), [1, { a: 1 }]);
    }));

  test(`${t.name}: CyberList.remove() of an absent value rejects with VALUE_NOT_FOUND and changes nothing`, () =>
    withList<unknown>(t.start, [1, { a: 1 }, "2"], async (l) => {
      await assert.rejects(l.remove({ a: 2 }), isValueNotFound);
      await assert.rejects(l.remove({ a: 1, b: undefined }), isValueNotFound);
      await assert.rejects(l.remove("1"), isValueNotFound, "1 is not '1'");
      await assert.rejects(l.remove(2), isValueNotFound, "2 is not '2'");
      await assert.rejects(l.remove(1n), isValueNotFound, "1n is not 1");
      assert.deepStrictEqual(await l.toArray(), [1, { a: 1 }, "2"]);
      await l.clear();
      await assert.rejects(l.remove(1), isValueNotFound);
    }));

  test(`${t.name}: CyberList.count() counts deeply equal items`, () =>
    withList<unknown>(t.start, [{ a: 1 }, { a: 1 }, { a: 2 }, [1, [2]], [1, [2]], 1, "1", null], async (l) => {
      assert.strictEqual(await l.count({ a: 1 }), 2);
      assert.strictEqual(await l.count([1, [2]]), 2);
      assert.strictEqual(await l.count(1), 1);
      assert.strictEqual(await l.count(null), 1);
      assert.strictEqual(await l.count({ a: 3 }), 0);
      assert.strictEqual(await l.count(undefined), 0);
    }));

  test(`${t.name}: CyberList.indexOf() finds the first deeply equal item from fromIndex, or -1`, () =>
    withList<unknown>(t.start, ["a", { k: [1] }, "b", "a", { k: [1] }], async (l) => {
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

  test(`${t.name}: CyberList.includes() tells whether a deeply equal item is present`, () =>
    withList<unknown>(t.start, [{ a: [1, { b: null }] }, 0, new Date(5), NaN], async (l) => {
      assert.strictEqual(await l.includes({ a: [1, { b: null }] }), true);
      assert.strictEqual(await l.includes(0), true);
      assert.strictEqual(await l.includes(new Date(5)), true);
      assert.strictEqual(await l.includes(NaN), true);
      assert.strictEqual(await l.includes({ a: [1, { b: 0 }] }), false);
      assert.strictEqual(await l.includes(false), false);
      assert.strictEqual(await l.includes(new Date(6)), false);
    }));

  // ---- slices ----

  test(`${t.name}: CyberList.slice() follows Array.prototype.slice, negatives and no arguments included`, () =>
    withList(t.start, [0, 1, 2, 3, 4], async (l) => {
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

  test(`${t.name}: CyberList.splice() resolves to the removed items and inserts new ones`, () =>
    withList(t.start, [0, 1, 2, 3, 4, 5], async (l) => {
      assert.deepStrictEqual(await l.splice(1, 2), [1, 2]);
      assert.deepStrictEqual(await l.toArray(), [0, 3, 4, 5]);
      assert.deepStrictEqual(await l.splice(1, 0, 10, 11), []);
      assert.deepStrictEqual(await l.toArray(), [0, 10, 11, 3, 4, 5]);
      assert.deepStrictEqual(await l.splice(-2, 1, 40, 41, 42), [4]);
      assert.deepStrictEqual(await l.toArray(), [0, 10, 11, 3, 40, 41, 42, 5]);
      assert.deepStrictEqual(await l.splice(6, 100), [42, 5]);
      assert.deepStrictEqual(await l.toArray(), [0, 10, 11, 3, 40, 41]);
    }));

  test(`${t.name}: CyberList.splice() without deleteCount removes to the end`, () =>
    withList(t.start, ["a", "b", "c", "d"], async (l) => {
      assert.deepStrictEqual(await l.splice(2), ["c", "d"]);
      assert.deepStrictEqual(await l.toArray(), ["a", "b"]);
      assert.deepStrictEqual(await l.splice(-1), ["b"]);
      assert.deepStrictEqual(await l.splice(0), ["a"]);
      assert.deepStrictEqual(await l.toArray(), []);
    }));

  test(`${t.name}: CyberList.push(), unshift() and splice() take 80,000 items in one call`, () =>
    withList<number>(t.start, [-1, -2], async (l) => {
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

  test(`${t.name}: the server applies l.push, l.unshift and l.splice requests carrying 300,000 items`, () =>
    withProxy(t.start, async (proxy) => {
      const l = await proxy.createCyberList<number>("l", [-1, -2]);
      const n = 300_000;
      const items = Array.from({ length: n }, (_, i) => i);
      // Raw requests: a caller cannot spread this many arguments into l.push() itself.
      assert.strictEqual(await proxy.request("l.push", "l", items), n + 2);
      assert.strictEqual(await proxy.request("l.unshift", "l", items), 2 * n + 2);
      assert.deepStrictEqual(await proxy.request("l.splice", "l", [n, 2, ...items]), [-1, -2]);
      assert.deepStrictEqual(await proxy.request("l.splice", "l", [-1, 0, ...items]), []);
      assert.strictEqual(await l.length(), 4 * n);
      const all = await l.toArray();
      const expected = (i: number) => i < 3 * n - 1 ? i % n : i < 4 * n - 1 ? i - (3 * n - 1) : n - 1;
      for (let i = 0; i < all.length; i++) {
        if (all[i] !== expected(i)) assert.fail(`item ${i} is ${all[i]}, expected ${expected(i)}`);
      }
    }));

  test(`${t.name}: CyberList.reverse() reverses in place and resolves to undefined`, () =>
    withList<unknown>(t.start, [1, "two", { three: 3 }, null], async (l) => {
      assert.strictEqual(await l.reverse(), undefined);
      assert.deepStrictEqual(await l.toArray(), [null, { three: 3 }, "two", 1]);
    }));

  // ---- sort ----

  test(`${t.name}: CyberList.sort() sorts numbers numerically, not lexicographically`, () =>
    withList(t.start, [10, 9, 1, -5, 2.5, 100, 0], async (l) => {
      assert.strictEqual(await l.sort(), undefined);
      assert.deepStrictEqual(await l.toArray(), [-5, 0, 1, 2.5, 9, 10, 100]);
    }));

  test(`${t.name}: CyberList.sort() sorts strings by code point, astral characters after U+FF5E`, () =>
    withList(t.start, ["😀", "～", "b", "a", "B", "é", "", "ab"], async (l) => {
      await l.sort();
      // UTF-16 order would put "😀" (D83D DE00) before "～" (FF5E); code point order puts U+1F600 last.
      assert.deepStrictEqual(await l.toArray(), ["", "B", "a", "ab", "b", "é", "～", "😀"]);
    }));

  test(`${t.name}: CyberList.sort() orders bigints mixed with numbers by value`, () =>
    withList<number | bigint>(t.start, [3n, 1, 2.5, -1n, 2n ** 70n, 0, 1e30, -(2n ** 80n)], async (l) => {
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

  test(`${t.name}: CyberList.sort() orders Dates by time`, () => {
    const d = (iso: string) => new Date(iso);
    return withList(
      t.start,
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

  test(`${t.name}: CyberList.sort({ by }) sorts by a dot path into each item`, () => {
    const people = [
      { name: "Ann", address: { city: "Paris" } },
      { name: "Bob", address: { city: "Berlin" } },
      { name: "Cyd", address: { city: "Oslo" } },
    ];
    return withList(t.start, people, async (l) => {
      await l.sort({ by: "address.city" });
      assert.deepStrictEqual((await l.toArray()).map((p) => p.name), ["Bob", "Cyd", "Ann"]);
      await l.sort({ by: "name" });
      assert.deepStrictEqual(await l.toArray(), people);
    });
  });

  test(`${t.name}: CyberList.sort({ descending: true }) sorts largest first`, () =>
    withList(t.start, [10, 9, 1, 20], async (l) => {
      await l.sort({ descending: true });
      assert.deepStrictEqual(await l.toArray(), [20, 10, 9, 1]);
    }));

  test(`${t.name}: CyberList.sort() is stable, ascending and descending`, () => {
    const items = [
      { k: 2, id: "a" },
      { k: 1, id: "b" },
      { k: 2, id: "c" },
      { k: 1, id: "d" },
      { k: 2, id: "e" },
      { k: 0, id: "f" },
    ];
    return withList(t.start, items, async (l) => {
      await l.sort({ by: "k" });
      assert.deepStrictEqual((await l.toArray()).map((x) => x.id).join(""), "fbdace");
      await l.clear();
      await l.push(...items);
      await l.sort({ by: "k", descending: true });
      assert.deepStrictEqual((await l.toArray()).map((x) => x.id).join(""), "acebdf");
    });
  });

  test(`${t.name}: CyberList.sort() of mixed types rejects with WRONG_TYPE and leaves the list unchanged`, () =>
    withProxy(t.start, async (proxy) => {
      const cases: unknown[][] = [
        [3, "a", 1],
        [2, 1, null],
        [{ a: 1 }, { a: 0 }],
        [[2], [1]],
        ["b", new Date(0), "a"],
        [2, NaN, 1],
      ];
      for (const [i, items] of cases.entries()) {
        const l = await proxy.createCyberList(`mixed${i}`, items);
        await assert.rejects(l.sort(), isWrongType, `sort of ${i}`);
        await assert.rejects(l.sort({ descending: true }), isWrongType, `descending sort of ${i}`);
        assert.deepStrictEqual(await l.toArray(), items, `list ${i} unchanged`);
      }
      const byField = [{ n: 2 }, { n: 1 }, { m: 0 }];
      const l = await proxy.createCyberList("byField", byField);
      await assert.rejects(l.sort({ by: "n" }), isWrongType, "a missing field");
      await assert.rejects(l.sort({ by: "n.deeper" }), isWrongType, "a path through a number");
      assert.deepStrictEqual(await l.toArray(), byField);
    }));

  test(`${t.name}: CyberList.sort() of an empty or one-item list succeeds`, () =>
    withList<unknown>(t.start, [], async (l) => {
      await l.sort();
      assert.deepStrictEqual(await l.toArray(), []);
      await l.push(42);
      await l.sort({ descending: true });
      assert.deepStrictEqual(await l.toArray(), [42]);
    }));

  // ---- whole list ----

  test(`${t.name}: CyberList.clear() empties the list and resolves to undefined`, () =>
    withList(t.start, [1, 2, 3], async (l) => {
      assert.strictEqual(await l.clear(), undefined);
      assert.strictEqual(await l.length(), 0);
      assert.deepStrictEqual(await l.toArray(), []);
      assert.strictEqual(await l.push(4), 1);
    }));

  test(`${t.name}: CyberList.length() and toArray() report the items`, () =>
    withList<unknown>(t.start, [], async (l) => {
      assert.strictEqual(await l.length(), 0);
      assert.deepStrictEqual(await l.toArray(), []);
      const items = [0, "", false, null, [], {}, 1n, new Uint8Array([1]), new Date(2)];
      await l.push(...items);
      assert.strictEqual(await l.length(), items.length);
      const got = await l.toArray();
      assert.deepStrictEqual(got, items);
      assert.strictEqual((got[7] as Uint8Array).constructor, Uint8Array);
    }));

  test(`${t.name}: CyberList values are copies: mutating what you read does not change the table`, () =>
    withList(t.start, [{ a: [1] }], async (l) => {
      const read = (await l.toArray())[0];
      read.a.push(2);
      const at = await l.at(0);
      at!.a.length = 0;
      assert.deepStrictEqual(await l.toArray(), [{ a: [1] }]);
    }));

  test(`${t.name}: for await over a CyberList of more than 1000 items yields every item in order`, () =>
    withList<number>(t.start, [], async (l) => {
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

// ---- tables ----

for (const t of TRANSPORTS) {
  test(`${t.name}: createCyberDict() and createCyberList() store their initial values`, () =>
    withProxy(t.start, async (proxy) => {
      const fromObject = await proxy.createCyberDict("o", { a: 1, b: [2] });
      assert.deepStrictEqual(await fromObject.entries(), [["a", 1], ["b", [2]]]);
      const fromMap = await proxy.createCyberDict("m", new Map<string | number, unknown>([[1, "one"], ["1", "str"]]));
      assert.deepStrictEqual(await fromMap.entries(), [[1, "one"], ["1", "str"]]);
      const fromEntries = await proxy.createCyberDict("e", [["x", null], ["y", false]]);
      assert.deepStrictEqual(await fromEntries.entries(), [["x", null], ["y", false]]);
      assert.deepStrictEqual(await (await proxy.createCyberDict("empty")).size(), 0);
      const fromArray = await proxy.createCyberList("la", [3, { b: 2 }, 1]);
      assert.deepStrictEqual(await fromArray.toArray(), [3, { b: 2 }, 1]);
      const fromSet = await proxy.createCyberList("ls", new Set(["x", "y"]));
      assert.deepStrictEqual(await fromSet.toArray(), ["x", "y"]);
      assert.deepStrictEqual(await (await proxy.createCyberList("le")).toArray(), []);
    }));

  test(`${t.name}: creating a table whose name exists rejects with TABLE_EXISTS and keeps the old table`, () =>
    withProxy(t.start, async (proxy) => {
      const d = await proxy.createCyberDict("taken", { keep: true });
      await assert.rejects(proxy.createCyberDict("taken"), isTableExists);
      await assert.rejects(proxy.createCyberList("taken", [1]), isTableExists);
      assert.deepStrictEqual(await d.toObject(), { keep: true });
      await proxy.createCyberList("list");
      await assert.rejects(proxy.createCyberDict("list"), isTableExists);
      assert.deepStrictEqual(await proxy.tables(), [
        { name: "taken", type: "CyberDict" },
        { name: "list", type: "CyberList" },
      ]);
    }));

  test(`${t.name}: getCyberDict() and getCyberList() of a missing table reject with NO_SUCH_TABLE`, () =>
    withProxy(t.start, async (proxy) => {
      await assert.rejects(proxy.getCyberDict("missing"), isNoSuchTable);
      await assert.rejects(proxy.getCyberList("missing"), isNoSuchTable);
    }));

  test(`${t.name}: getting a table as the wrong kind rejects with WRONG_TYPE`, () =>
    withProxy(t.start, async (proxy) => {
      await proxy.createCyberList("list");
      await proxy.createCyberDict("dict");
      await assert.rejects(proxy.getCyberDict("list"), isWrongType);
      await assert.rejects(proxy.getCyberList("dict"), isWrongType);
    }));

  test(`${t.name}: getCyberDict() and getCyberList() give handles on the same data`, () =>
    withProxy(t.start, async (proxy) => {
      await (await proxy.createCyberDict("dict")).set("a", 1);
      await (await proxy.createCyberList("list")).push("x");
      assert.equal(await (await proxy.getCyberDict("dict")).get("a"), 1);
      assert.deepStrictEqual(await (await proxy.getCyberList("list")).toArray(), ["x"]);
    }));

  test(`${t.name}: deleteTable() removes the table and requests on its handles reject with NO_SUCH_TABLE`, () =>
    withProxy(t.start, async (proxy) => {
      const d = await proxy.createCyberDict("d", { a: 1 });
      const l = await proxy.createCyberList("l", [1]);
      assert.strictEqual(await proxy.deleteTable("d"), undefined);
      await proxy.deleteTable("l");
      assert.deepStrictEqual(await proxy.tables(), []);
      await assert.rejects(d.get("a"), isNoSuchTable);
      await assert.rejects(d.set("a", 2), isNoSuchTable);
      await assert.rejects(d.size(), isNoSuchTable);
      await assert.rejects(l.at(0), isNoSuchTable);
      await assert.rejects(l.push(2), isNoSuchTable);
      await assert.rejects(l.length(), isNoSuchTable);
      await assert.rejects(proxy.getCyberDict("d"), isNoSuchTable);
    }));

  test(`${t.name}: a name deleted and re-created as the other kind gives WRONG_TYPE on the old handle`, () =>
    withProxy(t.start, async (proxy) => {
      const d = await proxy.createCyberDict("x", { a: 1 });
      await proxy.deleteTable("x");
      const l = await proxy.createCyberList("x");
      await assert.rejects(d.get("a"), isWrongType);
      assert.strictEqual(await l.length(), 0);
    }));

  test(`${t.name}: deleteTable() of a missing table rejects with NO_SUCH_TABLE`, () =>
    withProxy(t.start, async (proxy) => {
      await assert.rejects(proxy.deleteTable("missing"), isNoSuchTable);
      await proxy.createCyberDict("d");
      await proxy.deleteTable("d");
      await assert.rejects(proxy.deleteTable("d"), isNoSuchTable);
    }));

  test(`${t.name}: tables() lists every table in creation order with its kind`, () =>
    withProxy(t.start, async (proxy) => {
      assert.deepStrictEqual(await proxy.tables(), []);
      await proxy.createCyberList("zeta");
      await proxy.createCyberDict("alpha");
      await proxy.createCyberDict("mid");
      await proxy.createCyberList("beta");
      await proxy.deleteTable("alpha");
      await proxy.createCyberDict("alpha"); // re-created: now last
      assert.deepStrictEqual(await proxy.tables(), [
        { name: "zeta", type: "CyberList" },
        { name: "mid", type: "CyberDict" },
        { name: "beta", type: "CyberList" },
        { name: "alpha", type: "CyberDict" },
      ]);
    }));
}

// ---- proxy behaviour ----

test("a request on a closed proxy rejects with ProxyClosedError", async () => {
  const fx = await startServer();
  try {
    const proxy = await fx.client.getProxy().connect();
    const d = await proxy.createCyberDict("d");
    const l = await proxy.createCyberList("l");
    await proxy.close();
    await assert.rejects(d.get("a"), isProxyClosed);
    await assert.rejects(l.push(1), isProxyClosed);
    await assert.rejects(proxy.tables(), isProxyClosed);
    await assert.rejects(proxy.createCyberDict("other"), isProxyClosed);
    await assert.rejects(proxy.connect(), isProxyClosed, "a closed proxy cannot be reconnected");
    await using fresh = await fx.client.getProxy().connect();
    assert.deepStrictEqual((await fresh.tables()).map((x) => x.name), ["d", "l"], "the close lost nothing");
  } finally {
    await fx.close();
  }
});

test("a request on a proxy that was never connected rejects with ProxyClosedError", async () => {
  const fx = await startServer();
  try {
    const proxy = fx.client.getProxy();
    await assert.rejects(proxy.tables(), isProxyClosed);
    await assert.rejects(proxy.createCyberList("l"), isProxyClosed);
  } finally {
    await fx.close();
  }
});

test("proxy.close() after client.close() does nothing and does not throw", async () => {
  const fx = await startServer();
  try {
    const proxy = await fx.client.getProxy().connect();
    await proxy.createCyberDict("d");
    await fx.client.close();
    assert.strictEqual(await proxy.close(), undefined);
    assert.strictEqual(await proxy.close(), undefined, "closing twice is fine too");
    await assert.rejects(proxy.tables(), isProxyClosed);
  } finally {
    await fx.close();
  }
});

for (const t of TRANSPORTS) {
  test(`${t.name}: 1000 push() calls on one proxy, not awaited one by one, are applied in order`, () =>
    withList<number>(t.start, [], async (l) => {
      const pending = [];
      for (let i = 0; i < 1000; i++) pending.push(l.push(i));
      const lengths = await Promise.all(pending);
      assert.deepStrictEqual(lengths, Array.from({ length: 1000 }, (_, i) => i + 1));
      assert.deepStrictEqual(await l.toArray(), Array.from({ length: 1000 }, (_, i) => i));
    }));

  test(`${t.name}: mixed requests on one proxy, not awaited, see each other's effects in issue order`, () =>
    withProxy(t.start, async (proxy) => {
      const l = await proxy.createCyberList<string>("l");
      const d = await proxy.createCyberDict<number>("d");
      const results = await Promise.all([
        l.push("a"),
        l.push("b"),
        d.increment("n"),
        l.pop(),
        d.set("n", 10),
        l.unshift("z"),
        d.increment("n", 5),
        l.toArray(),
        d.pop("n"),
        d.has("n"),
      ]);
      assert.deepStrictEqual(results, [1, 2, 1, "b", undefined, 2, 15, ["z", "a"], 15, false]);
    }));
}
