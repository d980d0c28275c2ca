/**
 * The compact storage behind CyberDict, checked against a `Map` over seeded
 * random operations long enough to run its compactions, grow past several
 * arena pages and give some values a page of their own; and the key rules a
 * `Map` has (-0 is 0, `1` is not `"1"`, strings are exact code units).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CompactMap } from "../src/store/compact_map.ts";
import type { Key } from "../src/store/values.ts";
import { mulberry32 } from "./_random.ts";

function contents(map: CompactMap): [Key, number[]][] {
  const out: [Key, number[]][] = [];
  map.forEach((key, value) => void out.push([key, [...value]]));
  return out;
}

function modelContents(model: Map<Key, Uint8Array>): [Key, number[]][] {
  return [...model].map(([key, value]) => [key, [...value]]);
}

test("CompactMap matches a Map over 200,000 random operations, through compactions and large values", () => {
  const random = mulberry32(0xc0ffee);
  const int = (n: number) => Math.floor(random() * n);
  const keys: Key[] = [];
  for (let i = 0; i < 3000; i++) {
    const kind = i % 6;
    keys.push(
      kind === 0
        ? i
        : kind === 1
        ? -i / 7
        : kind === 2
        ? `key:${i}`
        : kind === 3
        ? `ключ ${i}`
        : kind === 4
        ? `\ud800${i}\udfff` // lone surrogates, kept exactly
        : "x".repeat(i % 300) + i,
    );
  }
  keys.push(0, "0", 1, "1", "", "\u00ff", "\u0100");
  const map = new CompactMap(), model = new Map<Key, Uint8Array>();
  let compared = 0, largeValues = 0;
  for (let step = 0; step < 200_000; step++) {
    const key = keys[int(keys.length)];
    const roll = random();
    if (roll < 0.45) {
      const large = random() < 0.0005;
      const value = new Uint8Array(large ? 600_000 + int(1000) : int(int(2) ? 8 : 120));
      for (let i = 0; i < value.length; i += 97) value[i] = int(256);
      if (large) largeValues++;
      map.set(key, value);
      model.set(key, value);
    } else if (roll < 0.75) {
      assert.equal(map.delete(key), model.delete(key), `step ${step}: delete ${String(key)}`);
    } else if (roll < 0.95) {
      const value = map.get(key);
      assert.deepEqual(value && [...value], model.has(key) ? [...model.get(key)!] : undefined, `step ${step}`);
      assert.equal(map.has(key), model.has(key));
    } else if (roll < 0.9999) {
      const last = map.popLast();
      const expected = [...model].pop();
      if (expected) model.delete(expected[0]);
      assert.deepEqual(last && [last[0], [...last[1]]], expected && [expected[0], [...expected[1]]], `step ${step}`);
    } else {
      map.clear();
      model.clear();
    }
    assert.equal(map.size, model.size, `step ${step}: size`);
    if (step % 5000 === 0) {
      assert.deepEqual(contents(map), modelContents(model), `step ${step}: contents in order`);
      compared++;
    }
  }
  assert.deepEqual(contents(map), modelContents(model));
  assert.ok(compared >= 40 && largeValues > 10, `${compared} full comparisons, ${largeValues} large values`);
});

test("CompactMap keys follow the Map rules: -0 is 0, numbers are not strings, code units are exact", () => {
  const map = new CompactMap();
  const v = (n: number) => Uint8Array.of(n);
  map.set(0, v(1));
  map.set(-0, v(2));
  map.set("0", v(3));
  map.set(1, v(4));
  map.set("1", v(5));
  map.set("\ud800", v(6));
  map.set("\ufffd", v(7));
  map.set("é", v(8));
  map.set("e\u0301", v(9));
  assert.equal(map.size, 8);
  assert.deepEqual(contents(map), [
    [0, [2]],
    ["0", [3]],
    [1, [4]],
    ["1", [5]],
    ["\ud800", [6]],
    ["\ufffd", [7]],
    ["é", [8]],
    ["e\u0301", [9]],
  ]);
  assert.ok(Object.is(contents(map)[0][0], 0), "the key reads back as +0");
});

test("CompactMap keeps a key's place when its value is rewritten, in place or moved", () => {
  const map = new CompactMap();
  for (const key of ["a", "b", "c"]) map.set(key, Uint8Array.of(1, 2));
  map.set("a", Uint8Array.of(9, 9)); // same length: overwritten in place
  map.set("b", new Uint8Array(300).fill(7)); // longer: the record moves
  assert.deepEqual(contents(map).map(([key, value]) => [key, value.length, value[0]]), [
    ["a", 2, 9],
    ["b", 300, 7],
    ["c", 2, 1],
  ]);
});

test("CompactMap.copy() is independent of the original, both ways", () => {
  const map = new CompactMap();
  for (let i = 0; i < 5000; i++) map.set(`k${i}`, new Uint8Array(40).fill(i & 0xff));
  const copy = map.copy();
  const before = contents(copy);
  for (let i = 0; i < 5000; i += 2) map.delete(`k${i}`);
  for (let i = 1; i < 5000; i += 2) map.set(`k${i}`, new Uint8Array(40).fill(0));
  assert.deepEqual(contents(copy), before);
  copy.set("new", Uint8Array.of(1));
  assert.equal(map.has("new"), false);
  assert.equal(copy.size, 5001);
  assert.equal(map.size, 2500);
});

test("CompactMap.forEach() stops when asked and goes on from its cursor", () => {
  const map = new CompactMap();
  for (let i = 0; i < 10; i++) map.set(i, Uint8Array.of(i));
  map.delete(3);
  const seen: Key[] = [];
  let cursor: number | undefined = 0;
  let calls = 0;
  do {
    let taken = 0;
    cursor = map.forEach((key) => (seen.push(key), ++taken < 4), cursor);
    calls++;
  } while (cursor !== undefined);
  assert.deepEqual(seen, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
  assert.equal(calls, 3);
});

test("CompactMap compacts a big map a slice at a time while reads, writes and undone batches interleave", () => {
  const random = mulberry32(0x5eed);
  const int = (n: number) => Math.floor(random() * n);
  const map = new CompactMap(), model = new Map<Key, Uint8Array>();
  const value = (n: number, length: number) => new Uint8Array(length).fill(n & 0xff);
  // 9 in 10 entries expire: the sweep leaves holes (a delete would compact a few entries along).
  const expired = Date.now() - 1, later = Date.now() + 3_600_000;
  const expiries = new Map<Key, number>();
  for (let i = 0; i < 60_000; i++) {
    map.set(i, value(i, 2), i % 10 !== 0 ? expired : i % 20 === 0 ? later + i : 0);
    if (i % 10 === 0) model.set(i, value(i, 2));
    if (i % 20 === 0) expiries.set(i, later + i);
  }
  let slices = 0, compacting = 0;
  for (; (map.expiring > expiries.size || map.compacting) && slices < 20_000; slices++) {
    if (map.expiring === expiries.size) compacting++;
    if (compacting === 20) {
      // Most entries popped from the end, down past where the compaction has got to; then new ones.
      while (model.size > 50) {
        const [key] = map.popLast()!;
        model.delete(key);
        expiries.delete(key);
      }
    }
    // A deadline already past: the slice looks at 256 entries, the least it does.
    map.expireSome(Date.now(), performance.now());
    for (let j = 0; j < 3; j++) {
      const roll = random(), key = int(70_000);
      if (roll < 0.4) {
        const v = value(key, 1 + int(40)); // new keys, and old ones rewritten in place or moved
        map.set(key, v);
        model.set(key, v);
        expiries.delete(key);
      } else if (roll < 0.7) {
        assert.equal(map.delete(key), model.delete(key));
        expiries.delete(key);
      } else if (roll < 0.95) {
        assert.deepEqual(map.get(key) && [...map.get(key)!], model.has(key) ? [...model.get(key)!] : undefined);
      } else {
        const last = map.popLast(), expected = [...model].pop();
        if (expected) model.delete(expected[0]);
        if (expected) expiries.delete(expected[0]);
        assert.deepEqual(last && [last[0], [...last[1]]], expected && [expected[0], [...expected[1]]]);
      }
    }
    if (slices % 25 === 0) {
      // An atomic batch undone in the middle of the compaction: hold, change, put back.
      const key = [...model.keys()][int(model.size)];
      map.hold(true);
      const saved = map.saveKey(key);
      map.delete(key);
      map.set("batch", value(1, 3));
      map.restoreKey("batch", undefined);
      map.restoreKey(key, saved);
      map.hold(false);
    }
    if (slices % 50 === 0 || compacting === 20) {
      assert.deepEqual(contents(map), modelContents(model), `slice ${slices}`);
      const times: [Key, number][] = [];
      map.forEach((key, _, expiresAt) => void (expiresAt && times.push([key, expiresAt])));
      assert.deepEqual(times, [...expiries], `slice ${slices}: expiries`);
    }
    assert.equal(map.size, model.size, `slice ${slices}`);
  }
  assert.equal(map.compacting, false, `the compaction ended, after ${slices} slices`);
  assert.ok(compacting > 10, `${compacting} slices of compaction`);
  assert.deepEqual(contents(map), modelContents(model));
});

test("CompactMap's compaction goes on right when a batch empties the map's end down past where it has got to", () => {
  const map = new CompactMap(), model = new Map<Key, Uint8Array>();
  const expired = Date.now() - 1;
  // Keys i % 10 == 0 stay; the others have expired, and the sweep leaves 36,000 holes.
  for (let i = 0; i < 40_000; i++) {
    map.set(i, Uint8Array.of(i & 0xff), i % 10 === 0 ? 0 : expired);
    if (i % 10 === 0) model.set(i, Uint8Array.of(i & 0xff));
  }
  for (let n = 0; map.expiring > 0 && n < 1000; n++) map.expireSome(Date.now(), performance.now());
  assert.equal(map.expiring, 0);
  // A few slices of the compaction (at least 256 entries each: the deadline is past).
  for (let n = 0; n < 5; n++) map.expireSome(Date.now(), performance.now());
  assert.equal(map.compacting, true, "a compaction is under way");
  // A batch (no compaction steps while it holds) deletes from the end down past both cursors; then new keys.
  map.hold(true);
  for (let i = 39_990; i >= 500; i -= 10) {
    assert.equal(map.delete(i), true);
    model.delete(i);
  }
  for (let i = 0; i < 300; i++) {
    map.set(`new${i}`, Uint8Array.of(i));
    model.set(`new${i}`, Uint8Array.of(i));
  }
  map.hold(false);
  for (let n = 0; map.compacting && n < 1000; n++) map.expireSome(Date.now(), performance.now());
  assert.equal(map.compacting, false);
  assert.deepEqual(contents(map), modelContents(model));
  for (const key of model.keys()) assert.ok(map.has(key), `has ${String(key)}`);
});
