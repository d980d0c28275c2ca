/**
 * The Redis engine on a local Cluster of 3 masters (tests/_redis.ts, started
 * once for this file): tables spread over the nodes by their hash tag, each
 * table's ops on its own node; a node that stops fails only its own tables'
 * requests, with CONNECTION_CLOSED and no hang, and the client recovers when
 * it is back.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { type Client, connectRedis, type CyberDBError, type CyberDict } from "../mod.ts";
import { keySlot, tableKeys } from "../src/engines/redis/keys.ts";
import { freshName } from "./_engines.ts";
import { REDIS_UNAVAILABLE, type RedisCluster, startRedisCluster } from "./_redis.ts";

const code = (error: unknown) => (error as CyberDBError).code;

/** Which of the cluster's nodes holds each table, by asking every node for the table's meta key. */
async function placement(cluster: RedisCluster, names: string[]): Promise<Map<string, number>> {
  const where = new Map<string, number>();
  for (const [i, node] of cluster.nodes.entries()) {
    const raw = new Redis(node.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await raw.connect();
      for (const name of names) {
        const base = tableKeys("cyberdb", name).base;
        const slot = await raw.cluster("KEYSLOT", base) as number;
        if (await raw.cluster("COUNTKEYSINSLOT", slot) as number > 0 && await raw.exists(base)) {
          where.set(name, i);
        }
      }
    } finally {
      raw.disconnect();
    }
  }
  return where;
}

describe("redis cluster: 3 local masters", { skip: REDIS_UNAVAILABLE }, () => {
  let cluster: RedisCluster;
  let client: Client;
  before(async () => {
    // A short node timeout: the cluster sees a killed node as failing within about a second.
    cluster = await startRedisCluster(3, { durable: true, nodeTimeout: 1000 });
    client = await connectRedis({ cluster: cluster.seeds });
  });
  after(async () => {
    await client?.close();
    await cluster?.close();
  });

  test("tables land on different nodes, each whole on one node, and read back from there", async () => {
    await using proxy = await client.getProxy().connect();
    const names = Array.from({ length: 12 }, () => freshName("spread"));
    for (const [i, name] of names.entries()) await proxy.createCyberDict(name, { i, items: [i, `${i}`] });
    const where = await placement(cluster, names);
    assert.equal(where.size, names.length, "every table's meta key is on exactly one node");
    assert.ok(new Set(where.values()).size >= 2, `tables on ${new Set(where.values()).size} node(s)`);
    for (const [i, name] of names.entries()) {
      assert.deepStrictEqual(await (await proxy.getCyberDict(name)).toObject(), { i, items: [i, `${i}`] });
    }
    const listed = (await proxy.tables()).map((t) => t.name).filter((name) => names.includes(name));
    assert.deepStrictEqual(listed, names, "tables() lists them in creation order from any node");
  });

  test("keySlot() agrees with CLUSTER KEYSLOT, and tables sharing a {tag} share a node", async () => {
    const raw = new Redis(cluster.nodes[0].port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await raw.connect();
      const group = freshName("g");
      const keys = ["123456789", "a{b}c", "{}x", "x{}{y}", tableKeys("cyberdb", `{${group}}a`).base, "ü{é}"];
      for (const key of keys) assert.equal(keySlot(key), await raw.cluster("KEYSLOT", key), key);
    } finally {
      raw.disconnect();
    }
    await using proxy = await client.getProxy().connect();
    const group = freshName("g");
    const names = Array.from({ length: 6 }, (_, i) => `{${group}}t${i}`);
    for (const name of names) await proxy.createCyberDict(name);
    assert.equal(new Set((await placement(cluster, names)).values()).size, 1);
  });

  test("a stopped node fails only its own tables' requests, with CONNECTION_CLOSED; the client recovers", async () => {
    await using proxy = await client.getProxy().connect();
    const names = Array.from({ length: 12 }, () => freshName("down"));
    const dicts: CyberDict[] = [];
    for (const name of names) {
      const dict = await proxy.createCyberDict(name);
      await dict.set("n", 0);
      dicts.push(dict);
    }
    const where = await placement(cluster, names);
    const victim = where.get(names[0])!;
    const onVictim = dicts.filter((d) => where.get(d.name) === victim);
    const elsewhere = dicts.filter((d) => where.get(d.name) !== victim);
    assert.ok(elsewhere.length > 0, "some table on another node");

    const pending = Promise.allSettled(onVictim.map((d) => d.increment("n")));
    await cluster.nodes[victim].kill();
    for (const result of await pending) {
      if (result.status === "rejected") assert.equal(code(result.reason), "CONNECTION_CLOSED");
    }
    const started = performance.now();
    for (const dict of onVictim) {
      await assert.rejects(dict.increment("n"), (e) => code(e) === "CONNECTION_CLOSED");
    }
    assert.ok(performance.now() - started < 10_000, "rejected promptly, no hang");
    for (const dict of elsewhere) assert.equal(await dict.increment("n"), 1, `${dict.name} on a live node`);

    await cluster.nodes[victim].restart();
    const until = performance.now() + 30_000;
    for (const dict of onVictim) {
      for (;;) {
        try {
          assert.ok(await dict.increment("n") >= 1);
          break;
        } catch (error) {
          if (performance.now() > until) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }
    for (const dict of elsewhere) assert.equal(await dict.increment("n"), 2);
  });
});
