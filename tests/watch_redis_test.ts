/**
 * Change feeds on the Redis engine beyond the shared suite: the changes are
 * published by the scripts that make them (a plain Redis subscriber hears
 * them), and a dropped subscriber connection ends the watch with
 * `CONNECTION_CLOSED` instead of reconnecting over a gap.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { ConnectionClosedError, connectRedis } from "../mod.ts";
import { parseChange } from "../src/engines/redis/watch.ts";
import { freshName } from "./_engines.ts";
import { REDIS_UNAVAILABLE, startRedis } from "./_redis.ts";
import { rejectsWith } from "./_server.ts";

test(
  "redis: a change is published by the script that makes it, on the table's channel",
  { skip: REDIS_UNAVAILABLE },
  async () => {
    const node = await startRedis();
    const listener = new Redis(node.url);
    const client = await connectRedis({ url: node.url });
    try {
      await using proxy = await client.getProxy().connect();
      const name = freshName();
      const dict = await proxy.createCyberDict(name);
      const heard: Record<string, unknown>[] = [];
      listener.on("messageBuffer", (_channel: unknown, message: Parameters<typeof parseChange>[0]) => {
        heard.push(parseChange(message));
      });
      await listener.subscribe(`cyberdb:{${name}}:w`);
      await dict.set("a", [1, "x"]);
      await dict.delete("a");
      for (let i = 0; i < 50 && heard.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(heard, [{ op: "set", key: "a", value: [1, "x"] }, { op: "delete", key: "a" }]);
    } finally {
      listener.disconnect();
      await client.close();
      await node.close();
    }
  },
);

test("redis: a dropped subscriber connection ends the watch with CONNECTION_CLOSED (pub/sub would leave a gap)", {
  skip: REDIS_UNAVAILABLE,
}, async () => {
  const node = await startRedis();
  const admin = new Redis(node.url);
  const client = await connectRedis({ url: node.url });
  try {
    await using proxy = await client.getProxy().connect();
    const list = await proxy.createCyberList<number>(freshName());
    const changes = await list.watch();
    await list.push(1);
    assert.deepEqual((await changes.next()).value, { op: "push", values: [1] });
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    const error = await rejectsWith(changes.next(), ConnectionClosedError, "CONNECTION_CLOSED");
    assert.match(error.message, /at most once/);
    assert.match(error.message, /read the table again, then watch again/);
    await list.push(2); // the tables work on: only the watch ended
    assert.deepEqual(await list.toArray(), [1, 2]);
  } finally {
    admin.disconnect();
    await client.close();
    await node.close();
  }
});
