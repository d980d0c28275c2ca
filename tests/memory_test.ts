/**
 * The memory engine (`open()`): values copied both ways, requests answered
 * in the order made, `info`, closing; and its files are the server's files —
 * a snapshot written by `open({ db })` loads in `server.ts --db` and back,
 * and a journal written by `open({ journal })` is recovered by the next open.
 * (Every op's behaviour is in the shared suites, run on this engine too.)
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadRequestError, connect, ConnectionClosedError, open } from "../mod.ts";
import { LISTENING, spawnScript, spawnServer } from "./_child_server.ts";
import { rejectsWith } from "./_server.ts";

/** Runs `body` with a fresh temporary directory, removed afterwards. */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_memory_"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One value of every kind, nested. */
const EVERY_KIND = {
  zero: 0,
  empty: "",
  no: false,
  nothing: null,
  list: [1, [2, { three: 3 }]],
  big: -(2n ** 100n),
  when: new Date("2026-12-02T12:00:00.000Z"),
  bytes: Uint8Array.of(0, 1, 255),
  unicode: "日本 😀 é",
};

test("open(): a value written is copied in: mutating it afterwards does not change the table", async () => {
  await using client = await open();
  await using proxy = await client.getProxy().connect();
  const dict = await proxy.createCyberDict("d");
  const list = await proxy.createCyberList("l");
  const value = { a: [1, 2], bytes: Uint8Array.of(1, 2) };
  const setting = dict.set("k", value);
  const pushing = list.push(value);
  value.a.push(3);
  value.bytes[0] = 99;
  await Promise.all([setting, pushing]);
  assert.deepStrictEqual(await dict.get("k"), { a: [1, 2], bytes: Uint8Array.of(1, 2) });
  assert.deepStrictEqual(await list.at(0), { a: [1, 2], bytes: Uint8Array.of(1, 2) });
});

test("open(): a value read is a copy: mutating it does not change the table, and two reads are two objects", async () => {
  await using client = await open();
  await using proxy = await client.getProxy().connect();
  const dict = await proxy.createCyberDict<{ a: number[] }>("d", { k: { a: [1] } });
  const list = await proxy.createCyberList<{ a: number[] }>("l", [{ a: [1] }]);
  const read = (await dict.get("k"))!;
  read.a.push(2);
  const item = (await list.at(0))!;
  item.a.push(2);
  (await dict.values())[0].a.push(3);
  (await list.toArray())[0].a.push(3);
  assert.deepStrictEqual(await dict.get("k"), { a: [1] });
  assert.deepStrictEqual(await list.at(0), { a: [1] });
  assert.notStrictEqual(await dict.get("k"), await dict.get("k"));
});

test("open(): values of every kind read back exactly, and initial tables are copied too", async () => {
  await using client = await open();
  await using proxy = await client.getProxy().connect();
  const initial = { v: structuredClone(EVERY_KIND) };
  const dict = await proxy.createCyberDict("d", initial);
  initial.v.list.push(9);
  assert.deepStrictEqual(await dict.get("v"), EVERY_KIND);
});

test("open(): requests not awaited one by one resolve in the order made, each seeing the ones before", async () => {
  await using client = await open();
  await using proxy = await client.getProxy().connect();
  const list = await proxy.createCyberList<number>("l");
  const order: number[] = [];
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    pending.push(list.push(i).then((length) => order.push(length)));
    if (i % 50 === 49) pending.push(list.length().then((length) => order.push(-length)));
  }
  await Promise.all(pending);
  const expected: number[] = [];
  for (let i = 0; i < 200; i++) {
    expected.push(i + 1);
    if (i % 50 === 49) expected.push(-(i + 1));
  }
  assert.deepStrictEqual(order, expected);
});

test("open(): an error rejects only its own request, in its place in the order", async () => {
  await using client = await open();
  await using proxy = await client.getProxy().connect();
  const dict = await proxy.createCyberDict("d");
  const settled: string[] = [];
  await Promise.all([
    dict.set("a", 1).then(() => settled.push("set")),
    dict.pop("missing").catch((error) => settled.push(error.code)),
    dict.get("a").then((value) => settled.push(`get ${value}`)),
  ]);
  assert.deepStrictEqual(settled, ["set", "KEY_NOT_FOUND", "get 1"]);
});

test("open(): a request is validated as on a server: a bad key or op rejects with BAD_REQUEST, changing nothing", async () => {
  await using client = await open();
  await using proxy = await client.getProxy().connect();
  const dict = await proxy.createCyberDict("d");
  await rejectsWith(dict.set({ not: "a key" } as unknown as string, 1), BadRequestError, "BAD_REQUEST");
  await rejectsWith(proxy.request("d.nonsense", "d", []), BadRequestError, "BAD_REQUEST");
  await rejectsWith(proxy.request("d.set", "d", ["only the key"]), BadRequestError, "BAD_REQUEST");
  assert.equal(await dict.size(), 0);
});

test("open(): proxy.info() reports the engine's tables, requests and connections", async () => {
  await using client = await open();
  assert.equal(client.engine, "memory");
  await using proxy = await client.getProxy().connect();
  await proxy.createCyberDict("d", { a: 1, b: 2 });
  const info = await proxy.info();
  assert.deepStrictEqual(info.tables, [{ name: "d", type: "CyberDict", size: 2 }]);
  assert.equal(info.connections.current, 1);
  assert.ok(info.requests >= 1);
  assert.equal(info.journal, null);
  assert.equal(info.lastSnapshot, null);
});

test("open(): after client.close() requests reject with CONNECTION_CLOSED, and close() is idempotent", async () => {
  const client = await open();
  const proxy = await client.getProxy().connect();
  const dict = await proxy.createCyberDict("d");
  await client.close();
  await rejectsWith(dict.get("a"), ConnectionClosedError, "CONNECTION_CLOSED");
  await rejectsWith(client.getProxy().connect(), ConnectionClosedError, "CONNECTION_CLOSED");
  await proxy.close();
  await client.close();
});

test("open({ backupInterval }) without db is refused with a TypeError", async () => {
  await assert.rejects(open({ backupInterval: 5 }), TypeError);
});

test("a snapshot written by open({ db }) at close() loads in server.ts --db", async () => {
  await inTempDir(async (dir) => {
    const db = join(dir, "data.cdb");
    {
      await using client = await open({ db });
      await using proxy = await client.getProxy().connect();
      await proxy.createCyberDict("centre", { content: "Hello CyberDB!", every: EVERY_KIND });
      await proxy.createCyberList("jobs", [1, "two", EVERY_KIND]);
    }
    assert.ok((await stat(db)).size > 0);
    const child = spawnServer(["--port", "0", "--db", db]);
    try {
      const port = Number((await child.waitForStderr(LISTENING))[1]);
      await using client = await connect({ hostname: "127.0.0.1", port });
      await using proxy = await client.getProxy().connect();
      assert.deepStrictEqual(await proxy.tables(), [
        { name: "centre", type: "CyberDict" },
        { name: "jobs", type: "CyberList" },
      ]);
      const centre = await proxy.getCyberDict("centre");
      assert.deepStrictEqual(await centre.toObject(), { content: "Hello CyberDB!", every: EVERY_KIND });
      assert.deepStrictEqual(await (await proxy.getCyberList("jobs")).toArray(), [1, "two", EVERY_KIND]);
    } finally {
      await child.kill();
    }
  });
});

test("a snapshot saved by server.ts --db (at SIGTERM) loads in open({ db })", async () => {
  await inTempDir(async (dir) => {
    const db = join(dir, "data.cdb");
    const child = spawnServer(["--port", "0", "--db", db]);
    try {
      const port = Number((await child.waitForStderr(LISTENING))[1]);
      const client = await connect({ hostname: "127.0.0.1", port });
      try {
        await using proxy = await client.getProxy().connect();
        await proxy.createCyberDict("centre", { content: "Hello CyberDB!", every: EVERY_KIND });
        await proxy.createCyberList("jobs", [EVERY_KIND, 2]);
      } finally {
        await client.close();
      }
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0);
    } finally {
      await child.kill();
    }
    await using client = await open({ db });
    await using proxy = await client.getProxy().connect();
    assert.deepStrictEqual(await proxy.tables(), [
      { name: "centre", type: "CyberDict" },
      { name: "jobs", type: "CyberList" },
    ]);
    assert.deepStrictEqual(await (await proxy.getCyberDict("centre")).toObject(), {
      content: "Hello CyberDB!",
      every: EVERY_KIND,
    });
    assert.deepStrictEqual(await (await proxy.getCyberList("jobs")).toArray(), [EVERY_KIND, 2]);
  });
});

test("open({ journal }): changes acknowledged before a SIGKILL are recovered by the next open()", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "data.journal");
    for (const fsync of ["always", "everysec", "no"] as const) {
      const child = spawnScript("tests/_memory_writer.ts", ["--journal", path, "--fsync", fsync, "--count", "50"]);
      try {
        await child.waitForStderr(/acknowledged 50/);
      } finally {
        await child.kill();
      }
      await using client = await open({ journal: { path, fsync } });
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.getCyberDict("d");
      assert.equal(await dict.size(), 49, fsync);
      assert.deepStrictEqual(await dict.get("k49"), { i: 49, when: new Date(49) });
      assert.equal(await dict.has("k0"), false);
      assert.deepStrictEqual(await (await proxy.getCyberList("l")).toArray(), [1, 2]);
      assert.equal((await proxy.info()).journal?.fsync, fsync);
      await proxy.deleteTable("d");
      await proxy.deleteTable("l");
    }
  });
});

test("a journal written by open({ journal }) is recovered by server.ts --journal", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "data.journal");
    {
      await using client = await open({ journal: { path, fsync: "always" } });
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict("d");
      await dict.update({ a: 1, b: EVERY_KIND });
      await dict.increment("a", 41);
    }
    const child = spawnServer(["--port", "0", "--journal", path]);
    try {
      const port = Number((await child.waitForStderr(LISTENING))[1]);
      await using client = await connect({ hostname: "127.0.0.1", port });
      await using proxy = await client.getProxy().connect();
      assert.deepStrictEqual(await (await proxy.getCyberDict("d")).toObject(), { a: 42, b: EVERY_KIND });
    } finally {
      await child.kill();
    }
  });
});
