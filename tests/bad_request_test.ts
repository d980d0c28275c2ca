/**
 * Specific malformed requests, through the real client where it can send
 * them and as raw frames where it cannot: unknown ops, wrong argument counts
 * and types, requests that are not `[id, op, table, ...args]`, ops that are
 * not strings, and `__proto__` keys. Each gets BAD_REQUEST, changes nothing,
 * and the connection goes on.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "../src/protocol/codec.ts";
import { BadRequestError, Server } from "../mod.ts";
import { freshName } from "./_engines.ts";
import { type Fixture, startServer } from "./_server.ts";
import { concat, RawConn } from "./_wire.ts";

const HOST = "127.0.0.1";
const PASSWORD = "correct horse battery staple";

const isBadRequest = (pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BadRequestError, String(e));
  assert.equal(e.code, "BAD_REQUEST");
  if (pattern) assert.match(e.message, pattern);
  return true;
};

// Requests that touch only their own tables share one password server (fresh table names).
describe("on one password server", () => {
  let fixture: Fixture | undefined;
  const shared = (): Fixture => {
    if (fixture === undefined) throw new Error("the shared server did not start; see the before hook");
    return fixture;
  };
  before(async () => {
    fixture = await startServer({ password: PASSWORD });
  });
  after(async () => {
    await fixture?.close();
  });

  test("an unknown op gets BAD_REQUEST naming the op, and the connection goes on", async () => {
    await using proxy = await shared().client.getProxy().connect();
    const t = freshName();
    const dict = await proxy.createCyberDict(t);
    await assert.rejects(proxy.request("d.frobnicate", t, ["k"]), isBadRequest(/d\.frobnicate/));
    await assert.rejects(proxy.request("__proto__", t, []), isBadRequest(/__proto__/));
    await assert.rejects(proxy.request("constructor", t, []), isBadRequest(/constructor/));
    await dict.set("k", 1);
    assert.equal(await dict.get("k"), 1);
  });

  test("a wrong number of arguments gets BAD_REQUEST naming the op", async () => {
    await using proxy = await shared().client.getProxy().connect();
    const t = freshName(), l = freshName("l");
    const dict = await proxy.createCyberDict(t);
    await proxy.createCyberList(l);
    await assert.rejects(proxy.request("d.set", t, ["k"]), isBadRequest(/d\.set/));
    await assert.rejects(proxy.request("d.set", t, ["k", 1, 2]), isBadRequest(/d\.set/));
    await assert.rejects(proxy.request("l.at", l, []), isBadRequest(/l\.at/));
    await assert.rejects(proxy.request("d.size", t, [1]), isBadRequest(/d\.size/));
    assert.equal(await dict.size(), 0, "nothing was set by the rejected requests");
  });
});

test("arguments of the wrong type get BAD_REQUEST and change nothing", async () => {
  const fx = await startServer({ password: PASSWORD });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const list = await proxy.createCyberList("l", [1, 2, 3]);
    await proxy.createCyberDict("t");
    await assert.rejects(proxy.request("l.at", "l", ["x"]), isBadRequest(/l\.at/));
    await assert.rejects(proxy.request("l.at", "l", [1.5]), isBadRequest());
    await assert.rejects(proxy.request("l.set", "l", [null, 9]), isBadRequest());
    await assert.rejects(proxy.request("l.insert", "l", [{}, 9]), isBadRequest());
    await assert.rejects(proxy.request("l.slice", "l", ["0"]), isBadRequest());
    await assert.rejects(proxy.request("d.set", "t", [{ not: "a key" }, 1]), isBadRequest());
    await assert.rejects(proxy.request("d.increment", "t", ["n", "1"]), isBadRequest());
    await assert.rejects(proxy.request("d.update", "t", [[["a", 1], "not a pair"]]), isBadRequest());
    await assert.rejects(proxy.request("l.sort", "l", [{ by: 5 }]), isBadRequest());
    await assert.rejects(proxy.request("create", "x", ["NotAKind"]), isBadRequest());
    assert.deepEqual(await list.toArray(), [1, 2, 3]);
    assert.deepEqual(await proxy.tables(), [{ name: "l", type: "CyberList" }, { name: "t", type: "CyberDict" }]);
  } finally {
    await fx.close();
  }
});

test("a request that is not [id, op, table, ...args] gets BAD_REQUEST with id 0, and the connection stays open", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD });
  const raw = await RawConn.connect(port);
  try {
    await raw.handshake({ password: PASSWORD });
    const malformed: unknown[] = [
      { id: 1, op: "tables" }, // a map, not an array
      "tables",
      42,
      null,
      [],
      [1],
      [1, "tables"], // no table
      ["1", "tables", ""], // the id is not a number
      [1.5, "tables", ""], // nor an integer
      [2 ** 60, "tables", ""], // nor a safe one
    ];
    for (const message of malformed) {
      await raw.send(message);
      const reply = await raw.read() as unknown[];
      assert.deepEqual(reply.slice(0, 3), [0, 1, "BAD_REQUEST"], JSON.stringify(message));
      assert.match(reply[3] as string, /\[id, op, table, \.\.\.args\]/);
    }
    // Not MessagePack at all, and a valid value followed by trailing bytes.
    await raw.sendFrames([new Uint8Array([0xc1]), concat([encode([5, "tables", ""]), new Uint8Array([0])])]);
    assert.deepEqual((await raw.read() as unknown[]).slice(0, 3), [0, 1, "BAD_REQUEST"]);
    assert.deepEqual((await raw.read() as unknown[]).slice(0, 3), [0, 1, "BAD_REQUEST"]);
    // The connection is still good.
    await raw.send([9, "tables", ""]);
    assert.deepEqual(await raw.read(), [9, 0, []]);
  } finally {
    raw.close();
    await server.close();
  }
});

test("an op that is not a string, or a very long one, gets a short BAD_REQUEST, not an internal error", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD });
  const raw = await RawConn.connect(port);
  try {
    await raw.handshake({ password: PASSWORD });
    await raw.send([1, "create", "t", "CyberDict"]);
    assert.deepEqual(await raw.read(), [1, 0]);
    const ops: unknown[] = [2n ** 64n + 5n, 7, null, true, [1, 2n], { op: 1n }, new Uint8Array(3), "x".repeat(100_000)];
    for (const [i, op] of ops.entries()) {
      await raw.send([10 + i, op, "t", "k"]);
      const reply = await raw.read() as unknown[];
      assert.deepEqual(reply.slice(0, 3), [10 + i, 1, "BAD_REQUEST"], `op ${typeof op}`);
      assert.match(reply[3] as string, /^unknown op /, `op ${typeof op}: ${reply[3]}`);
      assert.ok((reply[3] as string).length < 200, `the message stays short for an op of ${String(op).length} chars`);
    }
    await raw.send([99, "d.get", "t", "k", "default"]);
    assert.deepEqual(await raw.read(), [99, 0, "default"]);
  } finally {
    raw.close();
    await server.close();
  }
});

test("a __proto__ key in a request's value is stored as data and pollutes no prototype", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD });
  const raw = await RawConn.connect(port);
  try {
    await raw.handshake({ password: PASSWORD });
    await raw.send([1, "create", "t", "CyberDict"]);
    assert.deepEqual(await raw.read(), [1, 0]);
    // {"__proto__": {"polluted": true}} written by hand: fixmap 1, "__proto__", fixmap 1, "polluted", true.
    const key = new TextEncoder().encode("__proto__"), inner = new TextEncoder().encode("polluted");
    const value = new Uint8Array([0x81, 0xa0 | key.length, ...key, 0x81, 0xa0 | inner.length, ...inner, 0xc3]);
    const request = concat([
      new Uint8Array([0x95, 0x02, 0xa5, ...new TextEncoder().encode("d.set"), 0xa1, 0x74, 0xa1, 0x6b]),
      value,
    ]);
    await raw.sendFrames([request]);
    const reply = await raw.read() as unknown[];
    assert.equal(reply[0], 2);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype must stay clean");
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    await raw.send([3, "d.get", "t", "k"]);
    const stored = await raw.read() as unknown[];
    assert.equal(stored[1], 0);
    assert.equal(Object.getPrototypeOf(stored[2]), Object.prototype);
    assert.equal((stored[2] as Record<string, unknown>).polluted, undefined);
  } finally {
    raw.close();
    await server.close();
  }
});
