/**
 * The codec's lazy paths against msgpackr's own encoding: `skipValue` and
 * `arrayItems` find exactly the boundaries of every kind of value, and
 * `encodeArray` splices encoded items into the bytes a plain encode gives.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode, encodeArray, Encoded, LazyArray } from "../src/protocol/codec.ts";
import { arrayItems, skipValue } from "../src/protocol/msgpack_scan.ts";

/** One value of each MessagePack form the codec writes: every size class of strings, binaries, arrays, maps, numbers. */
const SAMPLES: unknown[] = [
  null,
  true,
  false,
  0,
  127,
  128,
  -1,
  -32,
  -33,
  255,
  256,
  65_535,
  65_536,
  2 ** 32,
  -(2 ** 31) - 1,
  1.5,
  -0.25,
  2n ** 64n,
  -(2n ** 70n),
  "",
  "a".repeat(31),
  "b".repeat(32),
  "c".repeat(255),
  "d".repeat(256),
  "e".repeat(65_536),
  "ключ 🔑",
  new Uint8Array(0),
  new Uint8Array(300),
  new Uint8Array(70_000),
  new Date(1_700_000_000_123),
  [],
  [1, [2, [3, []]]],
  Array.from({ length: 16 }, (_, i) => i),
  Array.from({ length: 70_000 }, (_, i) => i % 7),
  {},
  { a: 1, b: { c: [null] } },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
];

test("skipValue() ends exactly where each encoded value ends, for every form", () => {
  for (const value of SAMPLES) {
    const bytes = encode([value, "after"]);
    const items = arrayItems(bytes, 0)!;
    assert.equal(items.length, 3);
    assert.equal(skipValue(bytes, items[0]), items[1], `value ${String(value).slice(0, 40)}`);
    assert.equal(items[2], bytes.length);
    assert.deepEqual(decode(bytes.subarray(items[1], items[2])), "after");
  }
});

test("LazyArray decodes the same items as decode(), one at a time, nested arrays lazily too", () => {
  const message = [...SAMPLES, SAMPLES.slice(0, 20)];
  const bytes = encode(message);
  const lazy = LazyArray.of(bytes)!;
  assert.equal(lazy.length, message.length);
  assert.deepEqual([...lazy], decode(bytes));
  assert.deepEqual(lazy.all(), decode(bytes));
  assert.deepEqual(lazy.lazyAt(message.length - 1)!.all(), SAMPLES.slice(0, 20));
  assert.deepEqual([...lazy.lazyAt(message.length - 1)!], decode(bytes) && SAMPLES.slice(0, 20));
  assert.equal(lazy.lazyAt(0), undefined, "null is not an array");
  assert.equal(LazyArray.of(encode({ not: "an array" })), undefined);
});

const SMALL = SAMPLES.filter((value) => encode(value).length < 100);

test("encodeArray() with Encoded items gives the bytes encode() gives for the decoded items", () => {
  for (const count of [0, 3, 15, 16, 70_000]) {
    const items = Array.from({ length: count }, (_, i) => SMALL[i % SMALL.length]);
    const mixed = items.map((item, i) => (i % 3 === 0 ? new Encoded(encode(item)) : item));
    const actual = encodeArray(mixed), expected = encode(items);
    assert.equal(actual.length, expected.length, `${count} items`);
    assert.ok(actual.every((byte, i) => byte === expected[i]), `${count} items: same bytes`);
  }
});
