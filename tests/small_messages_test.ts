/**
 * The small-message fast paths give exactly what the general codec gives,
 * and leave everything else to it: requests, replies and random or mutated
 * bytes, checked against `codec.ts`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode, encodeArray, Encoded, encodeRequest, WRAPPED_DEPTH } from "../src/protocol/codec.ts";
import { decodeSmall, encodeReply, encodeSmallRequest } from "../src/protocol/small_messages.ts";

/** A small deterministic generator, so a failure repeats. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const INTEGERS = [
  0,
  1,
  31,
  127,
  128,
  255,
  256,
  65_535,
  65_536,
  2 ** 31 - 1,
  2 ** 32 - 1,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32_768,
  -32_769,
  -(2 ** 31),
];
const NOT_SMALL = [
  1.5,
  -0,
  2 ** 32,
  -(2 ** 31) - 1,
  NaN,
  "é",
  "x".repeat(256),
  "\ud800",
  null,
  true,
  [1],
  { a: 1 },
  10n,
];

function text(next: () => number, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += String.fromCharCode(Math.floor(next() * 128));
  return s;
}

test("a request of short ASCII strings and 32-bit integers decodes to what the codec's encoding decodes to", () => {
  const next = random(1);
  for (let trial = 0; trial < 2000; trial++) {
    const args = Array.from(
      { length: Math.floor(next() * 6) },
      () => next() < 0.5 ? text(next, Math.floor(next() * 300)) : INTEGERS[Math.floor(next() * INTEGERS.length)],
    );
    const id = [0, 1, 200, 70_000, 2 ** 32 - 1][trial % 5];
    const small = encodeSmallRequest(id, "d.set", text(next, 40), args);
    const general = encodeRequest(id, "d.set", "t", args);
    if (args.some((a) => typeof a === "string" && a.length > 255)) {
      assert.equal(small, undefined, "a string over 255 characters takes the codec");
      continue;
    }
    assert.ok(small, `args ${JSON.stringify(args)} are small`);
    const decoded = decode(small) as unknown[];
    assert.deepEqual(decoded.slice(3), (decode(general) as unknown[]).slice(3));
    assert.equal(decoded[0], id);
    assert.deepEqual(decodeSmall(small), decoded, "and decodeSmall reads it back the same");
  }
});

test("a request with anything else in it is left to the codec", () => {
  for (const arg of NOT_SMALL) {
    assert.equal(encodeSmallRequest(1, "d.set", "t", ["k", arg]), undefined, `${String(arg)} is not small`);
  }
  assert.equal(encodeSmallRequest(1, "d.get", "tablé", ["k"]), undefined);
  assert.equal(encodeSmallRequest(2 ** 32, "d.get", "t", ["k"]), undefined, "an id over 32 bits");
  assert.equal(encodeSmallRequest(1, "l.push", "t", Array(13).fill("v")), undefined, "more than 15 items");
});

test("a reply encodes to what encodeArray gives, for encoded, plain and no results", () => {
  for (const id of [0, 5, 127, 128, 300, 70_000, 2 ** 32 - 1]) {
    for (const result of [undefined, new Encoded(encode("a stored value")), "plain", 42, { a: [1, 2] }, null]) {
      const items = result === undefined ? [id, 0] : [id, 0, result];
      const reply = encodeReply(id, 0, result);
      assert.ok(reply);
      assert.deepEqual(decode(reply, WRAPPED_DEPTH), decode(encodeArray(items), WRAPPED_DEPTH));
    }
  }
  assert.equal(encodeReply(2 ** 32, 0, 1), undefined, "an id over 32 bits takes encodeArray");
  assert.equal(encodeReply(1.5, 0, 1), undefined);
});

test("decodeSmall reads what it accepts as the codec does, and refuses all else, on random and cut messages", () => {
  const next = random(2);
  let accepted = 0;
  for (let trial = 0; trial < 5000; trial++) {
    const items = Array.from({ length: Math.floor(next() * 17) }, () => {
      const pick = next();
      if (pick < 0.3) return text(next, Math.floor(next() * 40));
      if (pick < 0.6) return INTEGERS[Math.floor(next() * INTEGERS.length)];
      if (pick < 0.7) return [null, true, false][Math.floor(next() * 3)];
      return NOT_SMALL[Math.floor(next() * NOT_SMALL.length)];
    });
    const bytes = encode(items).slice();
    // Mutate some: a byte changed, or the message cut short or made longer.
    const mutation = next();
    let message = bytes;
    if (mutation < 0.2 && bytes.length > 0) message[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    else if (mutation < 0.3) message = bytes.subarray(0, Math.floor(next() * bytes.length));
    else if (mutation < 0.35) message = Uint8Array.of(...bytes, 0xc0);
    const small = decodeSmall(message);
    let general: unknown, failed = false;
    try {
      general = decode(message, WRAPPED_DEPTH);
    } catch {
      failed = true;
    }
    if (small === undefined) continue;
    accepted++;
    assert.equal(failed, false, `decodeSmall accepted bytes the codec refuses: ${Array.from(message)}`);
    assert.deepEqual(small, general);
  }
  assert.ok(accepted > 500, `enough messages took the fast path (${accepted})`);
});
