/**
 * The decoder against requests that are small on the wire and huge once
 * decoded: a budget on the values one request decodes to, the table looked
 * up before the arguments are decoded, only the extension types cyberdb
 * declares, nesting counted through extensions, and `--max-memory`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Client, connect, OutOfMemoryError, Server } from "../mod.ts";
import { ACCEPTED_EXTENSIONS } from "../src/protocol/extensions.ts";
import { checkMessagePack } from "../src/protocol/msgpack_scan.ts";
import { MAX_REQUEST_VALUES } from "../src/store/request.ts";
import { LISTENING, spawnServer } from "./_child_server.ts";
import { rejectsWith } from "./_server.ts";
import { frame, RawConn } from "./_wire.ts";

const HOST = "127.0.0.1";

/** `[id, op, table, ...count empty maps]`, encoded by hand: about `count` bytes. */
function emptyMaps(id: number, op: string, table: string, count: number): Uint8Array {
  const head = new TextEncoder().encode(op), name = new TextEncoder().encode(table);
  const out = new Uint8Array(5 + 1 + 1 + head.length + 1 + name.length + count);
  const view = new DataView(out.buffer);
  out[0] = 0xdd; // array 32
  view.setUint32(1, 3 + count);
  let at = 5;
  out[at++] = id; // positive fixint
  out[at++] = 0xa0 | head.length;
  out.set(head, at);
  at += head.length;
  out[at++] = 0xa0 | name.length;
  out.set(name, at);
  at += name.length;
  out.fill(0x80, at); // fixmap with no pairs
  return out;
}

test("four l.push of 16 M empty maps (15 MiB each) are refused, the server lives, and a second client's gets go on", async () => {
  const child = spawnServer(["--port", "0"]);
  let client: Client | undefined;
  let attacker: RawConn | undefined;
  try {
    const port = Number((await child.waitForStderr(LISTENING))[1]);
    client = await connect({ hostname: HOST, port });
    await using proxy = await client.getProxy().connect();
    await proxy.createCyberList("L");
    const dict = await proxy.createCyberDict("D", { small: "fine" });
    attacker = await RawConn.connect(port);
    await attacker.handshake({});
    // Framed once before the second client starts reading: the test process's own work stays out of its timings.
    const body = emptyMaps(1, "l.push", "L", 16 * 1024 * 1024);
    const framed = frame(body);
    const latencies: number[] = [];
    let done = false;
    const reads = (async () => {
      while (!done) {
        const started = performance.now();
        assert.equal(await dict.get("small"), "fine");
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const started = performance.now();
    for (let i = 1; i <= 4; i++) {
      framed[4 + 5] = i; // the id, a positive fixint right after the array header
      await attacker.write(framed);
    }
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await attacker.read(60_000) as unknown[]);
    const took = performance.now() - started;
    done = true;
    await reads;
    for (const [i, reply] of replies.entries()) {
      assert.deepEqual(reply.slice(0, 3), [i + 1, 1, "BAD_REQUEST"]);
      assert.match(String(reply[3]), /decodes to over \d+ values, the limit for one request/);
    }
    assert.equal(await (await proxy.getCyberList("L")).length(), 0, "nothing was pushed");
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
    const rss = (await proxy.info()).memory.rss;
    console.log(
      `4 x 16 M empty maps: refused in ${Math.round(took)} ms; second client's get p99 ${p99.toFixed(1)} ms, ` +
        `max ${sorted.at(-1)?.toFixed(1)} ms over ${sorted.length} reads; server RSS after ${
          Math.round(rss / 2 ** 20)
        } MiB`,
    );
    assert.ok(!child.exited, "the server is alive");
    // Was 10-13 s (the slow log indexed all 16 M items of each refused frame); < 100 ms on an idle machine.
    assert.ok(p99 < 1500, `second client's get p99 ${p99.toFixed(0)} ms`);
    assert.ok(rss < 1024 * 2 ** 20, `server RSS ${rss}`);
  } finally {
    attacker?.close();
    await client?.close();
    await child.kill();
  }
});

test("a container whose item count alone is over the budget is refused at its header, without walking its items", () => {
  const count = 16 * 1024 * 1024, bytes = new Uint8Array(5 + count).fill(0x80);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, count);
  const started = performance.now();
  assert.throws(() => checkMessagePack(bytes, 256, 0, MAX_REQUEST_VALUES), /decodes to over 2000000 values/);
  const took = performance.now() - started;
  assert.ok(took < 20, `the scan took ${took.toFixed(1)} ms`);
  // Within the budget, the same container is walked and counted as before.
  const small = bytes.slice(0, 5 + 1000);
  new DataView(small.buffer).setUint32(1, 1000);
  assert.equal(checkMessagePack(small, 256, 0, MAX_REQUEST_VALUES), 1001);
});

test("a large request on a missing table is refused NO_SUCH_TABLE before its arguments are decoded", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0 });
  const raw = await RawConn.connect(port);
  try {
    await raw.handshake({});
    const started = performance.now();
    await raw.sendFrames([emptyMaps(7, "l.push", "nope", 4 * 1024 * 1024)]);
    const reply = await raw.read(30_000) as unknown[];
    assert.deepEqual(reply.slice(0, 3), [7, 1, "NO_SUCH_TABLE"]);
    console.log(`l.push of 4 M maps on a missing table: refused in ${Math.round(performance.now() - started)} ms`);
  } finally {
    raw.close();
    await server.close();
  }
});

test(`a request of up to ${MAX_REQUEST_VALUES} values is still applied`, async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0 });
  const client = await connect({ hostname: HOST, port });
  try {
    await using proxy = await client.getProxy().connect();
    const list = await proxy.createCyberList("ok");
    const items = Array.from({ length: 20_000 }, (_, i) => `item ${i}`); // over 64 KiB: the large-request path
    assert.equal(await list.push(...items), 20_000);
    assert.deepEqual(await list.slice(-1), ["item 19999"]);
  } finally {
    await client.close();
    await server.close();
  }
});

test("the scan accepts exactly the extension types the codec declares, and refuses every other", () => {
  for (let byte = 0; byte < 256; byte++) {
    const type = (byte << 24) >> 24;
    // fixext 1 of that type; its one byte of data does not matter to the scan.
    const message = new Uint8Array([0xd4, byte, 0x00]);
    if (ACCEPTED_EXTENSIONS.includes(type) && ![2, 3, 4].includes(type)) {
      assert.doesNotThrow(() => checkMessagePack(message), `type ${type}`);
    } else if (!ACCEPTED_EXTENSIONS.includes(type)) {
      assert.throws(() => checkMessagePack(message), /extension type -?\d+ is not a cyberdb value/, `type ${type}`);
    }
  }
});

test("a hello carrying a RegExp-like extension is refused before any decoding; the server serves on", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, password: "pw-for-this-test" });
  const raw = await RawConn.connect(port);
  try {
    await raw.read();
    // fixext 1 of type 0x78 (msgpackr's RegExp) where the nonce should be.
    await raw.sendFrames([new Uint8Array([0x81, 0xa5, ...new TextEncoder().encode("nonce"), 0xd4, 0x78, 0x00])]);
    const reply = await raw.read() as { error: [string, string] };
    assert.equal(reply.error[0], "BAD_REQUEST");
    const client = await connect({ hostname: HOST, port, password: "pw-for-this-test" });
    await client.close();
  } finally {
    raw.close();
    await server.close();
  }
});

test("10,000 Set extensions nested in each other are refused as too deep, without a stack overflow", () => {
  let inner = new Uint8Array([0x90]); // an empty array
  for (let i = 0; i < 10_000; i++) {
    const payload = new Uint8Array(1 + inner.length);
    payload[0] = 0x91; // an array of one: the Set's items
    payload.set(inner, 1);
    const ext = new Uint8Array(6 + payload.length);
    ext[0] = 0xc9; // ext 32
    new DataView(ext.buffer).setUint32(1, payload.length);
    ext[5] = 0x03; // EXT_SET
    ext.set(payload, 6);
    inner = ext;
  }
  assert.throws(() => checkMessagePack(inner), /nested deeper than/);
});

test("past maxMemory, writes are refused with OUT_OF_MEMORY and reads still work", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, maxMemory: 1024 * 1024 });
  const client = await connect({ hostname: HOST, port });
  try {
    await using proxy = await client.getProxy().connect();
    const error = await rejectsWith(proxy.createCyberDict("t"), OutOfMemoryError, "OUT_OF_MEMORY");
    assert.match(error.message, /max-memory/);
    assert.deepEqual(await proxy.tables(), []);
  } finally {
    await client.close();
    await server.close();
  }
});
