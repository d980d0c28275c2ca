/**
 * A server that bad input cannot hurt: seeded random byte strings and
 * mutated valid frames — flipped, inserted and deleted bytes, lying length
 * headers, MessagePack nested 100,000 deep, containers claiming 2^32 items —
 * sent before authentication (instead of the handshake) and after it, to a
 * password server and to an encrypting one. The server must answer what it
 * can with BAD_REQUEST (with the request's id when it has one), close what
 * it must, never let garbage in, never fail internally, never hang, keep its
 * memory bounded, and serve a normal client correctly afterwards.
 *
 * Reproduce a run with `CYBERDB_FUZZ_SEED=<seed> deno test -A tests/fuzz_test.ts`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientHandshake } from "../src/crypto/handshake.ts";
import { decode, encode } from "../src/protocol/codec.ts";
import type { ServerHello } from "../src/protocol/messages.ts";
import { runtime } from "../src/runtime/mod.ts";
import { BadRequestError, type Client, connect, Server, type StartOptions } from "../mod.ts";
import { concat, frame, isPeerGone, RawConn } from "./_wire.ts";

const HOST = "127.0.0.1";
const PASSWORD = "correct horse battery staple";
const SEED = Number(runtime.env("CYBERDB_FUZZ_SEED") ?? 20_240_601) >>> 0;

/** Random byte strings per variant and phase (before auth, after auth). */
const RANDOM_INPUTS = 5_000;
/** Mutated valid frames per variant and phase. */
const MUTATED_INPUTS = 5_000;
/** Inputs sent on one connection after auth, where the server keeps it open. */
const BATCH = 250;
/** Connections open at once before auth (each input needs its own: the server closes after one frame). */
const CONCURRENCY = 48;
/** Random (unsealed) records sent to the encrypting server, each on its own authenticated connection. */
const RANDOM_RECORDS = 500;
/**
 * Longest a single fuzz test may run before it fails instead of dragging on. Protocol 2's handshake
 * costs an X25519 exchange on each side and another round trip, about 1-3 ms of CPU per handshake on a loaded
 * machine (10,000 of them here); under the whole suite in parallel on 2 shared cores the pre-auth tests took over
 * 60 s.
 */
const TEST_BUDGET_MS = 150_000;
/**
 * The server runs in this process, so its memory is this process's memory:
 * resident size counts the server, the fuzzer's own buffers, and pages the
 * allocator keeps after garbage collection frees them. Measured on a 2-core
 * machine: about +300 MiB over the first 10,000 connections, then flat. So
 * the total growth gets a generous bound, and the growth after the first
 * fuzz test — over 10,000 more connections and 20,000 more inputs — a tight
 * one that a leak of 16 KiB per connection would break.
 */
const RSS_GROWTH_LIMIT = 512 * 1024 * 1024;
const RSS_PLATEAU_LIMIT = 160 * 1024 * 1024;
const RSS_AT_START = runtime.memoryUsage();
/** Resident size once the first fuzz test is done: the plateau later tests are held to. */
let rssAfterWarmUp: number | undefined;

/** Known error codes: anything else in a reply is a bug. */
const CODES = new Set([
  "KEY_NOT_FOUND",
  "INDEX_OUT_OF_RANGE",
  "VALUE_NOT_FOUND",
  "WRONG_TYPE",
  "NO_SUCH_TABLE",
  "TABLE_EXISTS",
  "BAD_REQUEST",
  "FRAME_TOO_LARGE",
  "AUTH_FAILED",
  "ENCRYPTION_REQUIRED",
  "ENCRYPTION_UNAVAILABLE",
]);

// ---------------------------------------------------------------------------
// A seeded PRNG (sfc32) and the fuzz inputs built from it.

/** A small, fast, seeded generator; each input gets its own, so inputs do not depend on scheduling. */
class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(...seeds: number[]) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = 1;
    for (const seed of seeds) {
      this.#a ^= seed >>> 0;
      for (let i = 0; i < 12; i++) this.next();
    }
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** MessagePack headers that claim far more than any message holds. */
const HUGE_HEADERS = [
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 2^32 - 1 items
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 of 2^32 - 1 pairs
  [0xdc, 0xff, 0xff], // array16 of 65535
  [0xde, 0xff, 0xff], // map16 of 65535
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
  [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GiB
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32 of 4 GiB
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0xff], // ext32 of type -1 (timestamp)
  [0xd9, 0xff], // str8 of 255
];

const INTERESTING = [
  0x00,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x91,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc4,
  0xc7,
  0xcb,
  0xcf,
  0xd3,
  0xd4,
  0xd8,
  0xd9,
  0xdb,
  0xdc,
  0xdd,
  0xde,
  0xdf,
  0xe0,
  0xff,
];

/** Deep nesting: `depth` one-element arrays around a nil. */
function nested(depth: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(depth + 1).fill(0x91);
  out[depth] = 0xc0;
  return out;
}

/** A random byte string: mostly short, sometimes long, sometimes MessagePack-ish. */
function randomBytes(rng: Rng): Uint8Array<ArrayBuffer> {
  switch (rng.int(8)) {
    case 0:
      return rng.bytes(rng.int(8));
    case 1:
      return rng.bytes(rng.int(4096));
    case 2: // bytes drawn from the interesting MessagePack markers
      return Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.pick(INTERESTING));
    case 3: // a huge container or string header, then a little of anything
      return concat([new Uint8Array(rng.pick(HUGE_HEADERS)), rng.bytes(rng.int(32))]);
    default:
      return rng.bytes(rng.int(256));
  }
}

/** Flips, inserts, deletes, overwrites or splices random bytes; 1 to 4 times. */
function mutate(rng: Rng, input: Uint8Array): Uint8Array<ArrayBuffer> {
  let bytes = input.slice();
  for (let round = 1 + rng.int(4); round > 0; round--) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(9)) {
      case 0: // flip one bit
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] ^= 1 << rng.int(8);
        break;
      case 1: // overwrite with an interesting byte
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = rng.pick(INTERESTING);
        break;
      case 2: // insert random bytes
        bytes = concat([bytes.subarray(0, at), rng.bytes(1 + rng.int(8)), bytes.subarray(at)]);
        break;
      case 3: // delete a run
        bytes = concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rng.int(8))]);
        break;
      case 4: // truncate
        bytes = bytes.slice(0, at);
        break;
      case 5: // splice in a header that lies about its size
        bytes = concat([bytes.subarray(0, at), new Uint8Array(rng.pick(HUGE_HEADERS)), bytes.subarray(at)]);
        break;
      case 6: // wrap in deep nesting
        bytes = concat([new Uint8Array(1 + rng.int(600)).fill(0x91), bytes]);
        break;
      case 7: { // duplicate a run
        const run = bytes.slice(at, at + 1 + rng.int(16));
        bytes = concat([bytes.subarray(0, at), run, bytes.subarray(at)]);
        break;
      }
      default: // random byte
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = rng.next() & 0xff;
    }
  }
  return bytes;
}

/** Valid requests against tables "t" (a dict) and "l" (a list), as the client would send them. */
const VALID_REQUESTS: ((id: number) => unknown[])[] = [
  (id) => [id, "d.set", "t", "k", 5],
  (id) => [id, "d.get", "t", "k"],
  (id) => [id, "d.get", "t", "missing", { fallback: [1, 2] }],
  (id) => [id, "d.increment", "t", "n", 2],
  (id) => [id, "d.update", "t", [["a", 1], ["b", null], [3, "three"]]],
  (id) => [id, "d.setDefault", "t", "s", "x"],
  (id) => [id, "d.pop", "t", "nope", 0],
  (id) => [id, "d.has", "t", "a"],
  (id) => [id, "d.size", "t"],
  (id) => [id, "d.set", "t", "bytes", new Uint8Array([1, 2, 3])],
  (id) => [id, "d.set", "t", "date", new Date(0)],
  (id) => [id, "d.set", "t", "big", 2n ** 70n],
  (id) => [id, "l.push", "l", 1, "two", { a: [3] }],
  (id) => [id, "l.at", "l", -1],
  (id) => [id, "l.slice", "l", 0, 2],
  (id) => [id, "l.insert", "l", 0, "first"],
  (id) => [id, "l.indexOf", "l", { a: [3] }],
  (id) => [id, "l.count", "l", 1],
  (id) => [id, "l.sort", "l", { by: "a", descending: true }],
  (id) => [id, "l.splice", "l", 1, 1, "x"],
  (id) => [id, "l.length", "l"],
  (id) => [id, "tables", ""],
  (id) => [id, "open", "t", "CyberDict"],
  (id) => [id, "create", `fuzz${id % 7}`, "CyberList", [1, 2]],
];

/** The reply the server owes for a request frame whose header was intact. */
function expectedReply(body: Uint8Array): { id: number; badRequest: boolean } {
  let request: unknown;
  try {
    request = decode(body);
  } catch (error) {
    assert.ok(error instanceof BadRequestError, `decode threw ${error} instead of BAD_REQUEST`);
    return { id: 0, badRequest: true };
  }
  if (!Array.isArray(request) || request.length < 3 || !Number.isSafeInteger(request[0])) {
    return { id: 0, badRequest: true };
  }
  return { id: request[0], badRequest: false };
}

/** A header that lies about the body after it, or a body with a random header. */
function lyingFrame(rng: Rng, body: Uint8Array, limit: number): Uint8Array {
  const length = rng.pick([
    body.length + 1 + rng.int(1_000_000), // claims more than follows
    Math.max(0, body.length - 1 - rng.int(8)), // claims less: the rest reads as the next frame
    0xffffffff,
    limit,
    limit + 1,
    rng.next(),
  ]);
  return frame(body, length);
}

// ---------------------------------------------------------------------------
// Helpers to run things bounded in count and time.

/** Runs `work(0 … count-1)` with `concurrency` at a time; fails once `budget` ms are spent. */
async function runPool(
  count: number,
  concurrency: number,
  budget: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  const deadline = performance.now() + budget;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) {
        throw new Error(`the fuzz run passed its budget of ${budget} ms at input ${next} of ${count}`);
      }
      await work(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Writes, tolerating a server that already closed (it may reject a frame before reading all of it). */
async function writeTolerant(raw: RawConn, bytes: Uint8Array): Promise<void> {
  try {
    await raw.write(bytes);
  } catch (error) {
    if (!isPeerGone(error)) throw error;
  }
}

/** Checks that a normal client still gets correct answers, and that memory stayed bounded. */
async function assertServerHealthy(port: number, start: StartOptions): Promise<void> {
  const client: Client = await connect({ hostname: HOST, port, password: start.password, encrypt: start.encrypt });
  try {
    await using proxy = await client.getProxy().connect();
    const name = `health${Math.random().toString(36).slice(2)}`;
    const dict = await proxy.createCyberDict(name);
    const value = { text: "still fine", n: 42, list: [0, "", false, null], bytes: new Uint8Array([9, 8]) };
    await dict.set("k", value);
    assert.deepStrictEqual(await dict.get("k"), value);
    assert.equal(await dict.increment("c", 3), 3);
    assert.ok((await proxy.tables()).some((t) => t.name === name));
  } finally {
    await client.close();
  }
  const growth = runtime.memoryUsage() - RSS_AT_START;
  assert.ok(growth < RSS_GROWTH_LIMIT, `resident memory grew by ${Math.round(growth / 2 ** 20)} MiB`);
}

const VARIANTS: { name: string; start: StartOptions }[] = [
  { name: "password", start: { password: PASSWORD } },
  { name: "encrypted", start: { password: PASSWORD, encrypt: true } },
];

/** The input sent before auth, on its own connection, instead of the client's answer `genuine` (a whole frame). */
function preAuthInput(rng: Rng, index: number, genuine: Uint8Array): Uint8Array {
  switch (index) {
    case 0:
      return frame(nested(100_000)); // over the handshake frame limit
    case 1:
      return frame(nested(4_000)); // under it, but too deep
    case 2:
      return frame(new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff])); // map32 claiming 2^32 - 1 pairs
    case 3:
      return frame(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])); // array32 claiming 2^32 - 1 items
    case 4:
      return frame(new Uint8Array(0), 0xffffffff); // a header claiming 4 GiB
  }
  if (index < RANDOM_INPUTS) {
    // Random byte strings: raw, behind an honest header so they reach the decoder, or behind a lying one.
    const body = randomBytes(rng);
    return rng.chance(0.5) ? frame(body) : rng.chance(0.5) ? lyingFrame(rng, body, 4096) : body;
  }
  // Mutated genuine answers: the body only, or the header too.
  if (rng.chance(0.8)) return frame(mutate(rng, genuine.subarray(4)));
  return rng.chance(0.5) ? mutate(rng, genuine) : lyingFrame(rng, genuine.subarray(4), 4096);
}

const sameBytes = (a: unknown, b: Uint8Array) =>
  a instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);

/** Whether the first frame of `sent` is whole and carries the genuine proof `genuine` (a whole frame). */
function carriesGenuineProof(sent: Uint8Array, genuine: Uint8Array): boolean {
  const first = (bytes: Uint8Array) => {
    if (bytes.length < 4) return undefined;
    const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
    if (bytes.length < 4 + length) return undefined;
    try {
      return decode(bytes.subarray(4, 4 + length)) as { proof?: unknown } | undefined;
    } catch {
      return undefined;
    }
  };
  const proof = first(genuine)!.proof as Uint8Array;
  const message = first(sent);
  return typeof message === "object" && message !== null && sameBytes(message.proof, proof);
}

const sharedHello: Record<string, Uint8Array> = {};

for (const variant of VARIANTS) {
  test(`${variant.name}: random and mutated bytes instead of the handshake never authenticate, crash or hang the server`, async () => {
    const server = new Server();
    const { port } = await server.start({ hostname: HOST, port: 0, handshakeTimeout: 2_000, ...variant.start });
    const outcomes = new Map<string, number>();
    const count = (what: string): void => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    try {
      await runPool(RANDOM_INPUTS + MUTATED_INPUTS, CONCURRENCY, TEST_BUDGET_MS, async (index) => {
        const rng = new Rng(SEED, variant.start.encrypt ? 2 : 1, 1, index);
        const where = `seed ${SEED}, ${variant.name}, before auth, input ${index}`;
        const raw = await RawConn.connect(port);
        try {
          const first = await raw.readFrame();
          assert.ok(first !== null, where);
          const hello = decode(first) as ServerHello;
          assert.equal(hello.cyberdb, 2, where);
          assert.equal(hello.nonce.length, 32, where);
          // The genuine messages, computed for this connection with the real handshake code: the client's
          // hello, and (odd mutated inputs) after the server's proof, the client's proof, which is mutated.
          // A client hello depends on nothing the server sent, so one serves every connection but those
          // whose proof is mutated (the proof covers this connection's transcript).
          const atProof = index >= RANDOM_INPUTS && index % 2 === 1;
          const handshake = new ClientHandshake({ password: PASSWORD, encrypt: variant.start.encrypt ?? false });
          let genuine = atProof
            ? frame((await handshake.receive(first)).send!)
            : (sharedHello[variant.name] ??= frame((await handshake.receive(first)).send!));
          if (atProof) {
            await raw.sendFrames([genuine.subarray(4)]);
            const serverProof = await raw.readFrame();
            assert.ok(serverProof !== null, where);
            genuine = frame((await handshake.receive(serverProof)).send!); // throws unless the server proved itself
          }
          const input = preAuthInput(rng, index, genuine);
          const unchanged = atProof && carriesGenuineProof(input, genuine);
          await writeTolerant(raw, input);
          await raw.closeWrite();
          const deadline = performance.now() + 5_000;
          const reply = await raw.read(5_000);
          // Whatever follows the answer: nothing after a refusal or a proof; after a welcome, maybe records.
          let more = 0;
          while (await raw.readFrame(Math.max(1, deadline - performance.now())) !== null) more++;
          if (reply === null) return count("closed");
          if (Array.isArray(reply)) {
            // A frame over the handshake limit: [0, 1, "FRAME_TOO_LARGE", message].
            assert.deepEqual(reply.slice(0, 3), [0, 1, "FRAME_TOO_LARGE"], where);
            assert.equal(more, 0, `${where}: the server closes after refusing`);
            return count("FRAME_TOO_LARGE");
          }
          const answer = reply as { error?: [string, string]; proof?: Uint8Array };
          if (answer.error === undefined) {
            if (!atProof) {
              // A client hello gets the server's proof (nothing is authenticated yet), never a welcome.
              assert.ok(answer.proof instanceof Uint8Array && answer.proof.length === 32, where);
              return count("proved to a hello");
            }
            assert.ok(unchanged, `${where}: a changed proof must never authenticate`);
            assert.deepEqual(Object.keys(answer), [], where);
            return count("accepted unchanged");
          }
          assert.equal(more, 0, `${where}: the server closes after refusing`);
          assert.ok(CODES.has(answer.error[0]), `${where}: unknown code ${answer.error[0]}`);
          assert.equal(typeof answer.error[1], "string", where);
          count(answer.error[0]);
        } finally {
          raw.close();
        }
      });
      // The fuzzer reached every way of refusing, so the checks above had something to check.
      for (const outcome of ["BAD_REQUEST", "AUTH_FAILED", "FRAME_TOO_LARGE", "closed"]) {
        assert.ok((outcomes.get(outcome) ?? 0) > 0, `no input ended in ${outcome}: ${JSON.stringify([...outcomes])}`);
      }
      await assertServerHealthy(port, variant.start);
    } finally {
      await server.close();
    }
    rssAfterWarmUp ??= runtime.memoryUsage();
  });

  test(`${variant.name}: random and mutated request frames after auth get BAD_REQUEST with the right ids, and the connection stays open`, async () => {
    const server = new Server();
    const { port } = await server.start({ hostname: HOST, port: 0, ...variant.start });
    const outcomes = new Map<string, number>();
    const count = (what: string): void => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    try {
      const setup = await connect({ hostname: HOST, port, password: PASSWORD, encrypt: variant.start.encrypt });
      try {
        await using proxy = await setup.getProxy().connect();
        await proxy.createCyberDict("t", { k: 1 });
        await proxy.createCyberList("l", [1, { a: [3] }]);
      } finally {
        await setup.close();
      }
      const total = RANDOM_INPUTS + MUTATED_INPUTS;
      const connections = Math.ceil(total / BATCH);
      const deadline = performance.now() + TEST_BUDGET_MS;
      for (let c = 0; c < connections; c++) {
        assert.ok(performance.now() < deadline, `passed the budget of ${TEST_BUDGET_MS} ms at connection ${c}`);
        const raw = await RawConn.connect(port);
        try {
          await raw.handshake({ password: PASSWORD, encrypt: variant.start.encrypt });
          const bodies: Uint8Array[] = [];
          for (let j = 0; j < BATCH && c * BATCH + j < total; j++) {
            const index = c * BATCH + j;
            const rng = new Rng(SEED, variant.start.encrypt ? 2 : 1, 2, index);
            if (index === 0) bodies.push(nested(100_000));
            else if (index === 1) bodies.push(new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff]));
            else if (index === 2) bodies.push(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]));
            else if (index === 3) bodies.push(encode([3, "d.set", "t", "deep", decode(nested(200))]));
            else if (index === 4) {
              bodies.push(
                concat([new Uint8Array([0x95]), encode(4), encode("d.set"), encode("t"), encode("k"), nested(300)]),
              );
            } else if (index % 2 === 0) bodies.push(randomBytes(rng));
            else bodies.push(mutate(rng, encode(rng.pick(VALID_REQUESTS)(index))));
          }
          const expected = bodies.map(expectedReply);
          const rng = new Rng(SEED, variant.start.encrypt ? 2 : 1, 3, c);
          // In a few writes (and so, encrypted, a few records), not all at once.
          for (let at = 0; at < bodies.length;) {
            const n = 1 + rng.int(100);
            await raw.sendFrames(bodies.slice(at, at + n));
            at += n;
          }
          for (const [j, want] of expected.entries()) {
            const where = `seed ${SEED}, ${variant.name}, after auth, input ${c * BATCH + j}`;
            const reply = await raw.read(10_000);
            assert.ok(Array.isArray(reply), `${where}: the server must answer (it sent ${JSON.stringify(reply)})`);
            assert.equal(reply[0], want.id, `${where}: the reply's id`);
            if (want.badRequest) {
              assert.deepEqual(reply.slice(0, 3), [0, 1, "BAD_REQUEST"], where);
              assert.ok(typeof reply[3] === "string" && reply[3].length > 0, where);
              count("BAD_REQUEST");
            } else if (reply[1] === 1) {
              assert.ok(CODES.has(reply[2]), `${where}: unknown code ${reply[2]}`);
              assert.doesNotMatch(reply[3], /the server failed/, `${where}: an internal error`);
              count(`${reply[2]} with id`);
            } else {
              assert.equal(reply[1], 0, where);
              count("ok");
            }
          }
          // The connection is still open and serves a valid request.
          await raw.send([777_777, "tables", ""]);
          const check = await raw.read(10_000) as unknown[];
          assert.deepEqual(check.slice(0, 2), [777_777, 0]);

          // Now break the framing (or, encrypted, the record) and see the server close.
          const garbage = randomBytes(rng);
          if (variant.start.encrypt && c % 2 === 0) {
            await writeTolerant(raw, frame(garbage)); // a random record: fails to authenticate
          } else if (variant.start.encrypt) {
            await raw.sendFrames([]); // an empty record is fine …
            await writeTolerant(raw, lyingFrame(rng, garbage, 64 * 1024 * 1024)); // … a lying record header is not
          } else {
            await writeTolerant(raw, lyingFrame(rng, garbage, 64 * 1024 * 1024));
          }
          await raw.closeWrite();
          for (const reply of await raw.readToEnd(10_000)) {
            assert.ok(Array.isArray(reply) && (reply[1] === 0 || CODES.has(reply[2])), JSON.stringify(reply));
          }
        } finally {
          raw.close();
        }
      }
      for (const outcome of ["BAD_REQUEST", "ok"]) {
        assert.ok((outcomes.get(outcome) ?? 0) > 0, `no input ended in ${outcome}: ${JSON.stringify([...outcomes])}`);
      }
      assert.ok(
        [...outcomes.keys()].some((o) => o.endsWith("with id")),
        `no mutated request got an error with its own id: ${JSON.stringify([...outcomes])}`,
      );
      await assertServerHealthy(port, variant.start);
    } finally {
      await server.close();
    }
  });
}

test(`encrypted: ${RANDOM_RECORDS} random records after the handshake each close their connection and apply nothing`, async () => {
  const start = { password: PASSWORD, encrypt: true };
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, ...start });
  try {
    const client = await connect({ hostname: HOST, port, ...start });
    try {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict("t", { k: "v" });
      await runPool(RANDOM_RECORDS, CONCURRENCY, TEST_BUDGET_MS, async (index) => {
        const rng = new Rng(SEED, 4, index);
        const where = `seed ${SEED}, random record ${index}`;
        const raw = await RawConn.connect(port);
        try {
          await raw.handshake(start);
          if (index % 2 === 0) {
            // A genuine request first: the connection works until the garbage.
            await raw.send([1, "d.get", "t", "k"]);
            assert.deepEqual(await raw.read(), [1, 0, "v"], where);
          }
          const body = rng.chance(0.1) ? new Uint8Array(rng.int(17)) : rng.bytes(rng.int(600));
          await writeTolerant(raw, frame(body));
          const after = await raw.readToEnd(5_000);
          assert.deepEqual(after, [], `${where}: no reply to a record that does not authenticate`);
        } finally {
          raw.close();
        }
      });
      assert.deepEqual(await dict.toObject(), { k: "v" });
    } finally {
      await client.close();
    }
    await assertServerHealthy(port, start);
  } finally {
    await server.close();
  }
});

test("after all of the above this process's memory stayed bounded, and flat after the first fuzz test", () => {
  const rss = runtime.memoryUsage();
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  assert.ok(rss - RSS_AT_START < RSS_GROWTH_LIMIT, `resident memory grew by ${mib(rss - RSS_AT_START)}`);
  if (rssAfterWarmUp !== undefined) {
    assert.ok(
      rss - rssAfterWarmUp < RSS_PLATEAU_LIMIT,
      `resident memory grew by ${mib(rss - rssAfterWarmUp)} after warm-up`,
    );
  }
});
