/**
 * The Redis engine beyond the shared suites: how tables map onto Redis (a
 * hash, a list, our MessagePack, one hash tag per table, spread over a
 * Cluster's nodes), what it refuses, the order of requests on one proxy, the
 * optimistic ops under concurrent writers, and what happens when a node goes
 * away and comes back. Real `redis-server` processes (tests/_redis.ts),
 * started once per group.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { type Client, connectRedis, type CyberDBError } from "../mod.ts";
import { keySlot, tableKeys } from "../src/engines/redis/keys.ts";
import { freshName } from "./_engines.ts";
import { REDIS_UNAVAILABLE, type RedisNode, startRedis } from "./_redis.ts";
import { IS_DENO, ROOT, run } from "./_spawn.ts";

const skip = REDIS_UNAVAILABLE;
const code = (error: unknown) => (error as CyberDBError).code;

/** Retries `body` every 100 ms until it resolves, at most `ms`. */
async function eventually<T>(body: () => Promise<T>, ms: number): Promise<T> {
  const until = performance.now() + ms;
  for (;;) {
    try {
      return await body();
    } catch (error) {
      if (performance.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Rejects when `promise` does not settle within `ms`: a hang is a failure, not a stuck test. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}

describe("redis: one node", { skip }, () => {
  let node: RedisNode;
  let client: Client;
  before(async () => {
    node = await startRedis();
    client = await connectRedis({ url: node.url });
  });
  after(async () => {
    await client?.close();
    await node?.close();
  });

  test("connectRedis() rejects with CONNECTION_CLOSED when nothing listens, and UNSUPPORTED for encrypt", async () => {
    await assert.rejects(connectRedis({ url: "redis://127.0.0.1:1", connectTimeout: 2000 }), (e) => {
      return code(e) === "CONNECTION_CLOSED" && /cannot reach/.test((e as Error).message);
    });
    await assert.rejects(connectRedis({ url: node.url, encrypt: true }), (e) => {
      return code(e) === "UNSUPPORTED" && /redis engine/.test((e as Error).message) &&
        /rediss:\/\//.test((e as Error).message);
    });
  });

  test("proxy.info() is UNSUPPORTED on redis, naming the engine", async () => {
    await using proxy = await client.getProxy().connect();
    await assert.rejects(proxy.info(), (e) => code(e) === "UNSUPPORTED" && /redis engine/.test((e as Error).message));
  });

  test("expiry is UNSUPPORTED on redis and changes nothing; a bad expiry option is still BAD_REQUEST", async () => {
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict(freshName("expiry"));
    await assert.rejects(dict.set("a", 1, { expireIn: 1000 }), (e) => code(e) === "UNSUPPORTED");
    await assert.rejects(dict.update({ b: 2 }, { expireIn: 1000 }), (e) => code(e) === "UNSUPPORTED");
    await assert.rejects(dict.expire("a", 1000), (e) => code(e) === "UNSUPPORTED");
    await assert.rejects(dict.ttl("a"), (e) => code(e) === "UNSUPPORTED");
    await assert.rejects(dict.set("a", 1, { expireIn: -1 }), (e) => code(e) === "BAD_REQUEST");
    assert.equal(await dict.size(), 0);
    await dict.set("a", 1, {});
    assert.equal(await dict.get("a"), 1);
  });

  test("a CyberDict is a Redis hash of our MessagePack values, keys 1 and '1' apart; a CyberList a Redis list", async () => {
    await using proxy = await client.getProxy().connect();
    const name = freshName("shape");
    const dict = await proxy.createCyberDict(name);
    const values = [0, "", false, null, [], {}, 2n ** 70n, new Date(1234), new Uint8Array([0, 255]), {
      a: [1, { b: -1.5 }],
    }];
    await dict.set(1, "number one");
    await dict.set("1", "string one");
    for (const [i, v] of values.entries()) await dict.set(`v${i}`, v);
    assert.equal(await dict.get(1), "number one");
    assert.equal(await dict.get("1"), "string one");
    for (const [i, v] of values.entries()) assert.deepStrictEqual(await dict.get(`v${i}`), v);
    const list = await proxy.createCyberList(freshName("shape"), values);
    assert.deepStrictEqual(await list.toArray(), values);

    const raw = new Redis(node.port, "127.0.0.1");
    try {
      assert.equal(await raw.type(`cyberdb:{${name}}`), "hash");
      assert.equal(await raw.type(`cyberdb:{${list.name}}`), "list");
      // The entries, and the field "#" (the last insertion number) that keeps an empty dict in existence.
      assert.equal(await raw.hlen(`cyberdb:{${name}}`), values.length + 3);
      assert.deepStrictEqual([...(await raw.hgetBuffer(`cyberdb:{${name}}`, "sv1"))!], [0xa0]); // "" in MessagePack
      // The items, after the marker that keeps an empty list in existence.
      assert.equal(await raw.llen(`cyberdb:{${list.name}}`), values.length + 1);
      assert.deepStrictEqual([...(await raw.lindexBuffer(`cyberdb:{${list.name}}`, 0))!], [0xc1, 0x4c]);
    } finally {
      raw.disconnect();
    }
  });

  test("a name with a hash tag is placed under that tag; a name without one, or with an empty one, under its own", async () => {
    await using proxy = await client.getProxy().connect();
    const id = freshName("tag");
    const names = [`{${id}}accounts`, `ledger:{${id}}`, `plain{}${id}`, `${id}{a{b}c`];
    for (const name of names) await proxy.createCyberDict(name, { k: name });
    const raw = new Redis(node.port, "127.0.0.1");
    try {
      assert.equal(await raw.type(`cyberdb:{${id}}{%7B${id}%7Daccounts}`), "hash");
      assert.equal(await raw.type(`cyberdb:{${id}}{ledger:%7B${id}%7D}`), "hash");
      assert.equal(await raw.type(`cyberdb:{plain%7B%7D${id}}`), "hash");
      assert.equal(await raw.type(`cyberdb:{a{b}{${id}%7Ba%7Bb%7Dc}`), "hash");
      const slots = await Promise.all(
        [`{${id}}accounts`, `ledger:{${id}}`].map((name) => keySlot(tableKeys("cyberdb", name).base)),
      );
      assert.deepEqual(slots, [keySlot(id), keySlot(id)]);
      for (const name of names) assert.equal(await (await proxy.getCyberDict(name)).get("k"), name);
      assert.deepEqual((await proxy.tables()).filter((t) => names.includes(t.name)).map((t) => t.name), names);
    } finally {
      raw.disconnect();
    }
  });

  test("an atomic batch refuses the ops the client computes (remove, sort, a bigint increment) and expiry", async () => {
    await using proxy = await client.getProxy().connect();
    const group = freshName("g");
    const dict = await proxy.createCyberDict(`{${group}}d`, { n: 1 });
    const list = await proxy.createCyberList(`{${group}}l`, [3, 1, 2]);
    const refusals = [
      proxy.atomic().set(dict, "n", 2).sort(list).commit(),
      proxy.atomic().set(dict, "n", 2).remove(list, 3).commit(),
      proxy.atomic().set(dict, "n", 2).increment(dict, "big", 10n).commit(),
      proxy.atomic().set(dict, "n", 2, { expireIn: 1000 }).commit(),
      proxy.atomic().set(dict, "n", 2).persist(dict, "n").commit(),
    ];
    for (const refusal of refusals) {
      await assert.rejects(refusal, (e) => code(e) === "UNSUPPORTED" && /redis engine/.test((e as Error).message));
    }
    assert.equal(await dict.get("n"), 1);
    assert.deepEqual(await list.toArray(), [3, 1, 2]);
  });

  test("a batch over two tables reaches a whole-store watch as one event, and each table's watch as its own part", async () => {
    await using proxy = await client.getProxy().connect();
    const group = freshName("g");
    const a = await proxy.createCyberDict(`{${group}}a`), b = await proxy.createCyberList(`{${group}}b`);
    const [onA, onB, all] = await Promise.all([a.watch(), b.watch(), proxy.watch()]);
    await proxy.atomic().set(a, "k", 1).push(b, "x").set(a, "j", 2).commit();
    assert.deepEqual((await onA.next()).value, {
      op: "batch",
      changes: [{ op: "set", key: "k", value: 1 }, { op: "set", key: "j", value: 2 }],
    });
    assert.deepEqual((await onB.next()).value, { op: "push", values: ["x"] });
    assert.deepEqual((await all.next()).value, {
      op: "batch",
      changes: [
        { table: a.name, op: "set", key: "k", value: 1 },
        { table: b.name, op: "push", values: ["x"] },
        { table: a.name, op: "set", key: "j", value: 2 },
      ],
    });
    for (const w of [onA, onB, all]) await w.return();
  });

  test("another client of the same Redis sees the same tables, in creation order, and their data", async () => {
    const other = await connectRedis({ url: node.url });
    try {
      await using mine = await client.getProxy().connect();
      const names = [freshName("a"), freshName("b"), freshName("c")];
      await mine.createCyberList(names[0], [1]);
      const dict = await mine.createCyberDict(names[1], { k: "v" });
      await mine.createCyberList(names[2]);
      await using theirs = await other.getProxy().connect();
      const listed = (await theirs.tables()).filter((t) => names.includes(t.name));
      assert.deepStrictEqual(listed, [
        { name: names[0], type: "CyberList" },
        { name: names[1], type: "CyberDict" },
        { name: names[2], type: "CyberList" },
      ]);
      assert.equal(await (await theirs.getCyberDict(names[1])).get("k"), "v");
      await theirs.deleteTable(names[1]);
      await assert.rejects(dict.get("k"), (e) => code(e) === "NO_SUCH_TABLE");
    } finally {
      await other.close();
    }
  });

  test("requests on one proxy apply in order, even after an op that takes several round trips", async () => {
    await using proxy = await client.getProxy().connect();
    const list = await proxy.createCyberList(freshName("order"), [5, 3, 4]);
    const sorted = list.sort();
    const pushed = list.push(1);
    const removed = list.remove(3);
    const pushedAgain = list.push(3);
    await Promise.all([sorted, pushed, removed, pushedAgain]);
    assert.deepStrictEqual(await list.toArray(), [4, 5, 1, 3]);
  });

  test("remove() and sort() under concurrent writers from another client lose no write and apply whole", async () => {
    const other = await connectRedis({ url: node.url });
    try {
      await using a = await client.getProxy().connect();
      await using b = await other.getProxy().connect();
      const name = freshName("race");
      const initial = Array.from({ length: 200 }, (_, i) => ({ n: i, tag: "x" }));
      const mine = await a.createCyberList(name, initial);
      const theirs = await b.getCyberList<{ n: number; tag: string }>(name);
      const pushes = Array.from({ length: 50 }, (_, i) => theirs.push({ n: 1000 + i, tag: "y" }));
      const removes = Array.from({ length: 50 }, (_, i) => mine.remove({ tag: "x", n: i * 2 }));
      const sorts = Array.from({ length: 5 }, () => mine.sort({ by: "n", descending: true }));
      await Promise.all([...pushes, ...removes, ...sorts]);
      const items = await mine.toArray();
      assert.equal(items.length, 200);
      const ns = items.map((item) => item.n).sort((x, y) => x - y);
      const expected = [
        ...initial.map((item) => item.n).filter((n) => n % 2 === 1 || n >= 100),
        ...Array.from({ length: 50 }, (_, i) => 1000 + i),
      ].sort((x, y) => x - y);
      assert.deepStrictEqual(ns, expected);
    } finally {
      await other.close();
    }
  });

  test("a stopped node: pending and new requests reject with CONNECTION_CLOSED, then the client recovers", async () => {
    const durable = await startRedis({ durable: true });
    const mine = await connectRedis({ url: durable.url });
    try {
      await using proxy = await mine.getProxy().connect();
      const list = await proxy.createCyberList<number>(freshName("crash"));
      await list.push(-1);
      const pending = Promise.allSettled(Array.from({ length: 200 }, (_, i) => list.push(i)));
      await durable.kill();
      const settled = await within(pending, 5000, "pending requests");
      for (const result of settled) {
        if (result.status === "rejected") assert.equal(code(result.reason), "CONNECTION_CLOSED");
      }
      await within(assert.rejects(list.length(), (e) => code(e) === "CONNECTION_CLOSED"), 5000, "a new request");
      await durable.restart();
      const length = await eventually(() => list.length(), 20_000);
      // A request that failed may or may not have been applied (its reply was lost): never more than sent.
      assert.ok(length >= 1 + settled.filter((r) => r.status === "fulfilled").length && length <= 201);
      assert.equal(await list.push(7), length + 1);
    } finally {
      await mine.close();
      await durable.close();
    }
  });

  test("import of mod.ts does not load ioredis; connectRedis() does", { skip: !IS_DENO && "Deno only" }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "cyberdb_lazy_"));
    try {
      const config = JSON.parse(readFileSync(`${ROOT}deno.json`, "utf8"));
      config.imports.ioredis =
        "data:text/javascript,export const Redis = 1, Cluster = 1; throw new Error('ioredis was loaded');";
      writeFileSync(`${dir}/map.json`, JSON.stringify({ imports: config.imports }));
      writeFileSync(
        `${dir}/main.ts`,
        `import { connectRedis } from ${JSON.stringify(`${ROOT}mod.ts`)};\n` +
          `console.log("imported");\n` +
          `await connectRedis({ url: "redis://127.0.0.1:1" }).catch((e) => console.log(e.code, e.message));\n`,
      );
      const args = ["run", "-A", "--no-config", "--no-lock", `--import-map=${dir}/map.json`, `${dir}/main.ts`];
      const result = await run(process.execPath, args, { ms: 60_000 });
      assert.match(result.stdout, /^imported\nUNSUPPORTED .*ioredis was loaded.*npm install ioredis/s, result.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
