/**
 * The codec's lazy paths against msgpackr's own encoding: `skipValue` and
 * `arrayItems` find exactly the boundaries of every kind of value, and
 * `encodeArray` splices encoded items into the bytes a plain encode gives;
 * cyberdb's extension types are scanned and decoded, and no other.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode, encodeArray, Encoded, LazyArray } from "../src/protocol/codec.ts";
import { EXT_MAP, EXT_SET, EXT_STRING } from "../src/protocol/extensions.ts";
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

test("the scanner checks a Map or Set extension's payload as one more level of nesting", () => {
  let bytes = encode(1);
  // 300 Maps, each holding the next: refused like 300 nested arrays, before any decoding.
  for (let i = 0; i < 300; i++) bytes = wrapMap(bytes);
  assert.ok(decode(wrapMap(wrapMap(encode(1)))) instanceof Map);
  assert.throws(() => decode(bytes), /nested deeper than 256 levels/);
  // A container extension must hold one array.
  assert.throws(() => decode(Uint8Array.of(0xd4, EXT_MAP, 0x01)), /must hold one array/);
  assert.throws(() => decode(Uint8Array.of(0xd5, EXT_SET, 0x91, 0xdc)), /truncated|claims more/);
});

test("decode refuses every MessagePack extension type that is not cyberdb's", () => {
  for (const type of [0x65, 0x69, 0x70, 0x73, 0x74, 0x78, 0x62, 0x10, 0x7f]) {
    assert.throws(() => decode(Uint8Array.of(0xd6, type, 0, 0, 0, 0)), /not a cyberdb value/, `type ${type}`);
  }
  assert.deepEqual(decode(encode(new Map([[1, new Set(["\uD800"])]]))), new Map([[1, new Set(["\uD800"])]]));
});

test("well-formed strings stay MessagePack strings; only one with a lone surrogate takes the extension", () => {
  assert.deepEqual([...encode("hé")], [0xa3, 0x68, 0xc3, 0xa9]);
  assert.deepEqual([...encode("\uD800")], [0xd5, EXT_STRING, 0x00, 0xd8]);
  assert.deepEqual([...encode(-0)], [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]);
});

/** An EXT_MAP of one entry `0 => inner` around already encoded bytes. */
function wrapMap(inner: Uint8Array): Uint8Array {
  const payload = Uint8Array.of(0x92, 0x00, ...inner);
  return Uint8Array.of(0xc9, 0, 0, payload.length >>> 8, payload.length & 0xff, EXT_MAP, ...payload);
}
