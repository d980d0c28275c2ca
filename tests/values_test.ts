/**
 * The value rules of the README, one test per row, on every engine: what is
 * kept reads back exactly (through a dict, a list and a snapshot-free round
 * trip), what is refused is refused before it is sent, with `BAD_REQUEST`
 * naming the path, and the connection stays usable.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BadRequestError, type CyberDict, type CyberList, type Proxy } from "../mod.ts";
import { type EngineFixture, ENGINES, freshName } from "./_engines.ts";
import { rejectsWith } from "./_server.ts";

/** Asserts `actual` is `expected` exactly: same types, -0 kept, Map and Set entries in order, prototypes plain. */
function assertExact(actual: unknown, expected: unknown, where = "value"): void {
  if (typeof expected !== "object" || expected === null) {
    assert.ok(Object.is(actual, expected), `${where}: ${String(actual)} is not ${String(expected)}`);
    return;
  }
  assert.equal(typeof actual, "object", `${where}: not an object`);
  if (expected instanceof Map || expected instanceof Set) {
    assert.equal(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected), `${where}: not a Map/Set`);
    const a = [...(actual as Map<unknown, unknown>).entries()], e = [...expected.entries()];
    assert.equal(a.length, e.length, `${where}: size`);
    e.forEach((entry, i) => assertExact(a[i], entry, `${where}[${i}]`));
    return;
  }
  if (expected instanceof Date || expected instanceof Uint8Array) {
    assert.deepEqual(actual, expected, where);
    assert.equal(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected), `${where}: prototype`);
    return;
  }
  assert.equal(Array.isArray(actual), Array.isArray(expected), `${where}: array or not`);
  if (!Array.isArray(expected)) assert.equal(Object.getPrototypeOf(actual), Object.prototype, `${where}: prototype`);
  const keys = Reflect.ownKeys(expected);
  assert.deepEqual(Reflect.ownKeys(actual as object), keys, `${where}: keys`);
  for (const key of keys) {
    if (key === "length") continue;
    assertExact(
      (actual as Record<string, unknown>)[key as string],
      (expected as Record<string, unknown>)[key as string],
      `${where}.${String(key)}`,
    );
  }
}

/** Stores `value` in a dict and a list on `proxy`, and checks both read it back exactly. */
async function roundTrip(proxy: Proxy, value: unknown): Promise<void> {
  const dict = await proxy.createCyberDict(freshName("d"));
  await dict.set("k", value);
  assertExact(await dict.get("k"), value, "dict value");
  assertExact((await dict.entries())[0][1], value, "dict entry");
  const list = await proxy.createCyberList(freshName("l"), [value]);
  await list.push(value);
  assertExact(await list.at(0), value, "list item (created)");
  assertExact(await list.at(1), value, "list item (pushed)");
  assert.equal(await list.indexOf(value), 0, "found by structural equality");
}

/** Asserts `call` is refused with `BAD_REQUEST` whose message starts with `message`, and that `proxy` still works. */
async function refused(proxy: Proxy, call: Promise<unknown>, message: string): Promise<void> {
  const error = await rejectsWith(call, BadRequestError, "BAD_REQUEST");
  assert.ok(error.message.startsWith(message), `message: ${error.message}`);
  assert.deepEqual(await proxy.tables().then(() => "usable"), "usable");
}

class Point {
  constructor(readonly x: number, readonly y: number) {}
}

for (const harness of ENGINES) {
  const skip = harness.unavailable;
  let started: Promise<EngineFixture> | undefined;
  /** Runs `body` with a proxy of this engine (started once for the whole suite). */
  const withProxy = async (body: (proxy: Proxy) => Promise<void>) => {
    const fx = await (started ??= harness.start());
    await using proxy = await fx.client.getProxy().connect();
    await body(proxy);
  };
  const name = (what: string) => `values (${harness.name}): ${what}`;

  test(
    name("null, booleans and numbers (NaN, ±Infinity, -0 included) read back exactly"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        for (const value of [null, true, false, 0, -0, 1.5, -7, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 31) - 1]) {
          await roundTrip(proxy, value);
        }
        await roundTrip(proxy, [-0, 0, { z: -0 }]);
      }),
  );

  test(name("bigints of any size read back as bigints"), { skip }, () =>
    withProxy(async (proxy) => {
      for (const value of [0n, -1n, 2n ** 63n - 1n, 2n ** 64n, -(2n ** 200n) + 7n]) await roundTrip(proxy, value);
    }));

  test(name("strings read back exactly, lone surrogates included"), { skip }, () =>
    withProxy(async (proxy) => {
      for (
        const value of [
          "",
          "Hello",
          "héllo ✓ 😀",
          "\uD800",
          "x\uDFFFy",
          "\uDBFF\uDBFF",
          "\uFFFD",
          "a".repeat(70_000) + "\uD800",
        ]
      ) {
        await roundTrip(proxy, value);
      }
      await roundTrip(proxy, { "\uD800": "lone key", ok: ["\uDC00"] });
    }));

  test(
    name("keys: strings with lone surrogates and numbers stay apart, as Map keys do"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const keys = ["\uD800", "\uDBFF", "\uDFFF", "\uFFFD", "1", 1, "x\uD800y", "😀"];
        const dict = await proxy.createCyberDict<number>(freshName("d"));
        for (const [i, key] of keys.entries()) await dict.set(key, i);
        assert.equal(await dict.size(), keys.length);
        assertExact(await dict.keys(), keys, "keys");
        for (const [i, key] of keys.entries()) assert.equal(await dict.get(key), i, JSON.stringify(key));
        await dict.set(-0, 9);
        assert.equal(await dict.get(0), 9, "-0 and 0 are one key, as in a Map");
      }),
  );

  test(name("Uint8Array reads back as a plain Uint8Array copy"), { skip }, () =>
    withProxy(async (proxy) => {
      await roundTrip(proxy, new Uint8Array([0, 1, 255]));
      await roundTrip(proxy, { bytes: new Uint8Array(0) });
      const NodeBuffer = (globalThis as { Buffer?: { from(bytes: number[]): Uint8Array } }).Buffer;
      if (NodeBuffer !== undefined) {
        const dict = await proxy.createCyberDict(freshName("d"));
        await dict.set("b", NodeBuffer.from([7, 8]));
        assertExact(await dict.get("b"), new Uint8Array([7, 8]), "a Buffer reads back as a plain Uint8Array");
      }
    }));

  test(name("Date reads back as a Date of the same time"), { skip }, () =>
    withProxy(async (proxy) => {
      await roundTrip(proxy, new Date(0));
      await roundTrip(proxy, [new Date("2026-12-02T13:38:24.123Z")]);
    }));

  test(
    name("arrays and plain objects, nested, read back exactly (a null-prototype object as a plain one)"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        await roundTrip(proxy, { a: [1, { b: [[], {}] }], "": 0, "with space": false, __proto__: null });
        await roundTrip(proxy, [[[[[["deep"]]]]]]);
        const dict = await proxy.createCyberDict(freshName("d"));
        const bare = Object.assign(Object.create(null), { x: 1 });
        await dict.set("k", bare);
        assertExact(await dict.get("k"), { x: 1 });
      }),
  );

  test(name("an own key named __proto__ is kept as a key"), { skip }, () =>
    withProxy(async (proxy) => {
      await roundTrip(proxy, JSON.parse('{"__proto__": {"polluted": true}, "x": 1}'));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }));

  test(
    name("Map reads back as a Map, nested anywhere, keys of every kind kept apart"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const map = new Map<unknown, unknown>([
          [1, "number"],
          ["1", "string"],
          [1n, "bigint"],
          [true, "boolean"],
          [null, "null"],
          ["\uD800", "lone surrogate"],
          [{ id: 1 }, "object"],
          [[1], "array"],
          [new Map([[2, 3]]), new Set([new Map()])],
        ]);
        await roundTrip(proxy, map);
        await roundTrip(proxy, { nested: [map, { again: new Map([["k", map]]) }] });
        await roundTrip(proxy, new Map());
        const dict = await proxy.createCyberDict(freshName("d"));
        await dict.set("m", map);
        assert.equal(((await dict.get("m")) as Map<unknown, unknown>).get(1), "number");
      }),
  );

  test(name("Set reads back as a Set, in order, nested anywhere"), { skip }, () =>
    withProxy(async (proxy) => {
      await roundTrip(proxy, new Set([3, "3", 1, { a: 1 }, new Set([new Set()])]));
      await roundTrip(proxy, [new Set(), { s: new Set(["\uDFFF"]) }]);
    }));

  test(
    name("a function is refused before sending, with the path, and the connection stays usable"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const dict = await proxy.createCyberDict(freshName("d"));
        await refused(proxy, dict.set("k", () => 1), "value is a function");
        await refused(proxy, dict.set("k", { items: [0, 1, 2, { fn: () => 1 }] }), "value.items[3].fn is a function");
        const list = await proxy.createCyberList(freshName("l"));
        await refused(proxy, list.push(1, 2, { f: Math.max }), "values[2].f is a function");
        await refused(proxy, dict.update({ a: 1, b: [() => 1] }), "entries[1][1][0] is a function");
        await refused(proxy, dict.set("k", new Map([["x", () => 1]])), 'value.get("x") is a function');
        assert.equal(await dict.size(), 0, "nothing was stored");
        assert.equal(await list.length(), 0, "nothing was pushed");
        await dict.set("k", "fine");
        assert.equal(await dict.get("k"), "fine");
      }),
  );

  test(
    name("a symbol is refused as a value; a member keyed by a symbol is not part of the value"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const dict = await proxy.createCyberDict(freshName("d"));
        await refused(proxy, dict.set("k", Symbol("s")), "value is a symbol");
        await refused(proxy, dict.set("k", { list: [Symbol.iterator] }), "value.list[0] is a symbol");
        await dict.set("k", { [Symbol("s")]: 1, x: 2 });
        assertExact(await dict.get("k"), { x: 2 }, "as structuredClone and JSON.stringify leave it out");
      }),
  );

  test(
    name("undefined is refused as a stored value, member or item (holes included)"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const dict: CyberDict = await proxy.createCyberDict(freshName("d"));
        const list: CyberList = await proxy.createCyberList(freshName("l"));
        await refused(proxy, dict.set("k", undefined), "value is undefined");
        await refused(proxy, dict.set("k", { a: undefined }), "value.a is undefined");
        await refused(proxy, list.push([1, , 3]), "values[0][1] is undefined");
        await refused(proxy, list.push(undefined), "values[0] is undefined");
        await refused(proxy, proxy.createCyberDict(freshName("d"), { a: undefined }), "initial[0][1] is undefined");
        // As an absent optional argument, undefined is no value: it is allowed.
        assert.equal(await dict.get("missing", undefined), undefined);
        assert.equal(await list.includes(undefined), false);
      }),
  );

  test(
    name("class instances are refused (user classes, RegExp, Error, boxed primitives, Map subclasses)"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const dict = await proxy.createCyberDict(freshName("d"));
        await refused(proxy, dict.set("k", new Point(1, 2)), "value is an instance of Point");
        await refused(proxy, dict.set("k", { at: [/x/] }), "value.at[0] is an instance of RegExp");
        await refused(proxy, dict.set("k", new Error("e")), "value is an instance of Error");
        await refused(proxy, dict.set("k", Object("boxed")), "value is an instance of String");
        await refused(proxy, dict.set("k", new (class Tags extends Map {})()), "value is an instance of Tags");
      }),
  );

  test(
    name("typed arrays other than Uint8Array are refused, and so are ArrayBuffer and DataView"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const dict = await proxy.createCyberDict(freshName("d"));
        await refused(proxy, dict.set("k", new Int16Array([1, -1])), "value is an Int16Array");
        await refused(proxy, dict.set("k", { f: new Float64Array(1) }), "value.f is a Float64Array");
        await refused(proxy, dict.set("k", new Uint8ClampedArray(1)), "value is a Uint8ClampedArray");
        await refused(proxy, dict.set("k", new DataView(new ArrayBuffer(1))), "value is a DataView");
        await refused(proxy, dict.set("k", new ArrayBuffer(1)), "value is an instance of ArrayBuffer");
      }),
  );

  test(
    name("a value nested deeper than the limit, or one that refers to itself, is refused before sending"),
    { skip },
    () =>
      withProxy(async (proxy) => {
        const list = await proxy.createCyberList(freshName("l"));
        let deep: unknown = "bottom";
        for (let i = 0; i < 240; i++) deep = [deep];
        await list.push(deep); // at the limit: kept
        assertExact(await list.at(0), deep);
        await refused(proxy, list.push([deep]), "values[0][0][0]");
        const cycle: Record<string, unknown> = { name: "me" };
        cycle.self = cycle;
        const error = await rejectsWith(list.push(cycle), BadRequestError, "BAD_REQUEST");
        assert.match(error.message, /^values\[0\]\.self\.self.*nests deeper than 240 levels/);
        assert.equal(await list.length(), 1);
      }),
  );

  test(name("suite end: the engine stops"), { skip }, async () => {
    if (started !== undefined) await (await started).close();
  });
}
