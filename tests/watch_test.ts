import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChangeStream, type Client, type CyberDBError, SlowConsumerError, UnsupportedError } from "../mod.ts";
import { ENGINES, freshName } from "./_engines.ts";
import { rejectsWith } from "./_server.ts";

/** Reads `count` events, or fails after `ms`. */
async function take<C>(stream: ChangeStream<C>, count: number, ms = 5_000): Promise<C[]> {
  const out: C[] = [];
  const deadline = setTimeout(() => stream.end(new Error(`timed out after ${out.length} of ${count} events`)), ms);
  try {
    while (out.length < count) {
      const next = await stream.next();
      if (next.done) break;
      out.push(next.value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

/** Resolves with what ends the stream (an error), or fails after `ms`. */
async function ending<C>(stream: ChangeStream<C>, ms = 10_000): Promise<CyberDBError> {
  const deadline = Date.now() + ms;
  for (;;) {
    const next = Promise.race([
      stream.next(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the stream did not end")), deadline - Date.now())
      ),
    ]);
    try {
      if ((await next).done) throw new Error("the stream finished without an error");
    } catch (error) {
      return error as CyberDBError;
    }
  }
}

for (const harness of ENGINES) {
  const name = harness.name;
  if (harness.unsupported?.watch !== undefined) {
    test(`${name}: dict.watch(), list.watch() and proxy.watch() refuse with UNSUPPORTED naming the engine`, {
      skip: harness.unavailable,
    }, async () => {
      const fx = await harness.start();
      try {
        await using proxy = await fx.client.getProxy().connect();
        const dict = await proxy.createCyberDict(freshName());
        const list = await proxy.createCyberList(freshName());
        for (const watching of [dict.watch(), list.watch(), proxy.watch()]) {
          const error = await rejectsWith(watching, UnsupportedError, "UNSUPPORTED");
          assert.match(error.message, new RegExp(`the ${harness.engine} engine`));
        }
        await proxy.deleteTable(dict.name);
        await proxy.deleteTable(list.name);
      } finally {
        await fx.close();
      }
    });
    continue;
  }
  const suite = async (body: (client: Client, other: Client) => Promise<void>) => {
    const fx = await harness.start();
    try {
      await body(fx.client, await fx.connectAnother());
    } finally {
      await fx.close();
    }
  };

  test(`${name}: dict.watch() sees set, delete and clear made by another client, in order`, () =>
    suite(async (client, other) => {
      await using mine = await client.getProxy().connect();
      await using theirs = await other.getProxy().connect();
      const table = freshName();
      await mine.createCyberDict(table);
      const changes = await (await mine.getCyberDict(table)).watch();
      const dict = await theirs.getCyberDict(table);
      await dict.set("a", { deep: [1, 2n, new Date(0), new Uint8Array([7])] });
      await dict.set(1, 0);
      await dict.delete("missing");
      await dict.delete("a");
      await dict.increment(1, 5);
      await dict.clear();
      assert.deepEqual(await take(changes, 5), [
        { op: "set", key: "a", value: { deep: [1, 2n, new Date(0), new Uint8Array([7])] } },
        { op: "set", key: 1, value: 0 },
        { op: "delete", key: "a" },
        { op: "set", key: 1, value: 5 },
        { op: "clear" },
      ]);
      await changes.return();
    }));

  test(`${name}: dict.watch({ keys }) sees only those keys, and clear`, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict(freshName());
      const changes = await dict.watch({ keys: ["b", 2] });
      await dict.update({ a: 1, b: 2 });
      await dict.set("2", "string key");
      await dict.set(2, "number key");
      await dict.clear();
      assert.deepEqual(await take(changes, 3), [
        { op: "set", key: "b", value: 2 },
        { op: "set", key: 2, value: "number key" },
        { op: "clear" },
      ]);
      await changes.return();
    }));

  test(`${name}: list.watch() emits push, pop, set, and replace for reordering ops`, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      const list = await proxy.createCyberList<number>(freshName(), [3, 1, 2]);
      const changes = await list.watch();
      await list.push(4, 5);
      await list.pop();
      await list.set(-1, 9);
      await list.sort();
      await list.reverse();
      await list.splice(0, 1);
      await list.shift();
      await list.clear();
      await list.pop(); // empty: no change
      await list.push(1);
      const replace = { op: "replace" };
      assert.deepEqual(await take(changes, 9), [
        { op: "push", values: [4, 5] },
        { op: "pop" },
        { op: "set", index: 3, value: 9 },
        replace,
        replace,
        replace,
        replace,
        replace,
        { op: "push", values: [1] },
      ]);
      await changes.return();
    }));

  test(`${name}: proxy.watch() sees every table's changes and tables created and deleted`, () =>
    suite(async (client, other) => {
      await using mine = await client.getProxy().connect();
      await using theirs = await other.getProxy().connect();
      const changes = await mine.watch();
      const d = freshName("d"), l = freshName("l");
      const dict = await theirs.createCyberDict(d);
      const list = await theirs.createCyberList(l);
      await dict.set("k", "v");
      await list.push(1);
      await theirs.deleteTable(d);
      // Each table's changes in order (in a Redis Cluster two tables may live on two nodes: no order between them).
      const seen = await take(changes, 5);
      assert.deepEqual(seen.filter((c) => (c as { table?: string }).table === d), [
        { table: d, op: "createTable", type: "CyberDict" },
        { table: d, op: "set", key: "k", value: "v" },
        { table: d, op: "deleteTable" },
      ]);
      assert.deepEqual(seen.filter((c) => (c as { table?: string }).table === l), [
        { table: l, op: "createTable", type: "CyberList" },
        { table: l, op: "push", values: [1] },
      ]);
      await changes.return();
    }));

  test(`${name}: every change committed after watch() resolved arrives once, in commit order`, () =>
    suite(async (client, other) => {
      await using watcher = await client.getProxy().connect();
      const table = freshName();
      await watcher.createCyberDict(table, { seed: 0 });
      const writers = await Promise.all([client, other, other].map((c) => c.getProxy().connect()));
      const dicts = await Promise.all(writers.map((p) => p.getCyberDict<number>(table)));
      const changes = await (await watcher.getCyberDict<number>(table)).watch();
      // 3 writers x 300 increments and sets, pipelined: their requests interleave at the store.
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        dicts.forEach((dict, w) => {
          writes.push(dict.increment("count"));
          writes.push(dict.set(`w${w}`, i));
        });
      }
      await Promise.all(writes);
      const seen = await take(changes, 1800);
      assert.equal(seen.length, 1800);
      const counts = seen.filter((c) => c.op === "set" && c.key === "count").map((c) => (c as { value: number }).value);
      assert.deepEqual(counts, Array.from({ length: 900 }, (_, i) => i + 1), "increments in commit order, none twice");
      for (let w = 0; w < 3; w++) {
        const mine = seen.filter((c) => c.op === "set" && c.key === `w${w}`).map((c) => (c as { value: number }).value);
        assert.deepEqual(mine, Array.from({ length: 300 }, (_, i) => i), `writer ${w}'s sets in its order`);
      }
      // Replaying the changes over what was there before gives what is there now.
      const model = new Map<string | number, unknown>([["seed", 0]]);
      for (const c of seen) if (c.op === "set") model.set(c.key, c.value);
      assert.deepEqual(await dicts[0].toMap(), model);
      await changes.return();
      for (const p of writers) await p.close();
    }));

  test(`${name}: breaking out of for await stops the watch; watching again works`, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict(freshName());
      const watching = dict.watch();
      await watching;
      await dict.set("a", 1);
      await dict.set("b", 2);
      for await (const change of watching) {
        assert.deepEqual(change, { op: "set", key: "a", value: 1 });
        break;
      }
      const stream = await watching;
      assert.equal(stream.ended, true);
      assert.deepEqual(await stream.next(), { value: undefined, done: true });
      const again = await dict.watch();
      await dict.set("c", 3);
      assert.deepEqual(await take(again, 1), [{ op: "set", key: "c", value: 3 }]);
      await again.return();
    }));

  test(`${name}: watching a missing table or the wrong kind rejects; deleting the table ends the watch`, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      const table = freshName();
      const dict = await proxy.createCyberDict(table);
      const list = await proxy.createCyberList(freshName());
      await proxy.deleteTable(list.name);
      await rejectsWith(list.watch(), Error, "NO_SUCH_TABLE");
      const asList = await proxy.createCyberList(freshName());
      await proxy.deleteTable(asList.name);
      await proxy.createCyberDict(asList.name);
      await rejectsWith(asList.watch(), Error, "WRONG_TYPE");
      const changes = await dict.watch();
      await dict.set("x", 1);
      await proxy.deleteTable(table);
      assert.deepEqual(await take(changes, 1), [{ op: "set", key: "x", value: 1 }]);
      assert.equal((await ending(changes)).code, "NO_SUCH_TABLE");
    }));

  test(`${name}: an entry's expiry reaches the watcher as { op: "delete", key, expired: true }`, {
    skip: harness.unsupported?.expiry,
  }, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict(freshName());
      const changes = await dict.watch();
      await dict.set("session", { user: 7 }, { expireIn: 30 });
      await dict.set("kept", 1);
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal(await dict.get("session"), undefined); // removed now, if the active expiry has not yet
      assert.deepEqual(await take(changes, 3), [
        { op: "set", key: "session", value: { user: 7 } },
        { op: "set", key: "kept", value: 1 },
        { op: "delete", key: "session", expired: true },
      ]);
      await changes.return();
    }));

  test(`${name}: an atomic batch reaches the watchers as one batch event`, {
    skip: harness.unsupported?.atomic,
  }, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      // One hash tag: a batch over several tables needs them in one slot on Redis.
      const group = freshName("bank");
      const dict = await proxy.createCyberDict<number>(`{${group}}accounts`);
      const list = await proxy.createCyberList<string>(`{${group}}ledger`);
      const [dictChanges, all] = await Promise.all([dict.watch(), proxy.watch()]);
      await dict.set("alice", 100);
      const result = await proxy.atomic().check(dict, "alice", 100).set(dict, "alice", 50).increment(dict, "bob", 50)
        .push(list, "alice->bob").commit();
      assert.equal(result.ok, true);
      assert.deepEqual(await take(dictChanges, 2), [
        { op: "set", key: "alice", value: 100 },
        { op: "batch", changes: [{ op: "set", key: "alice", value: 50 }, { op: "set", key: "bob", value: 50 }] },
      ]);
      assert.deepEqual((await take(all, 2))[1], {
        op: "batch",
        changes: [
          { table: dict.name, op: "set", key: "alice", value: 50 },
          { table: dict.name, op: "set", key: "bob", value: 50 },
          { table: list.name, op: "push", values: ["alice->bob"] },
        ],
      });
      await dictChanges.return();
      await all.return();
    }));

  test(`${name}: a watcher's values are its own copies`, () =>
    suite(async (client) => {
      await using proxy = await client.getProxy().connect();
      const list = await proxy.createCyberList<{ n: number }>(freshName());
      const [first, second] = await Promise.all([list.watch(), list.watch()]);
      await list.push({ n: 1 });
      const [a] = await take(first, 1), [b] = await take(second, 1);
      (a as { values: { n: number }[] }).values[0].n = 99;
      assert.deepEqual(b, { op: "push", values: [{ n: 1 }] });
      assert.deepEqual(await list.toArray(), [{ n: 1 }]);
      await first.return();
      await second.return();
    }));

  test(`${name}: a watcher that never reads is ended with SLOW_CONSUMER once past its buffer; writers go on`, () =>
    suite(async (client, other) => {
      await using watcher = await client.getProxy().connect();
      await using writer = await other.getProxy().connect();
      const dict = await writer.createCyberDict<string>(freshName());
      const stream = await (await watcher.getCyberDict(dict.name)).watch({ buffer: 64 * 1024 });
      const value = "x".repeat(100);
      const started = Date.now();
      for (let round = 0; round < 20; round++) {
        await Promise.all(Array.from({ length: 100 }, (_, i) => dict.set(`k${i}`, value)));
      }
      assert.ok(Date.now() - started < 30_000);
      const error = await ending(stream);
      assert.ok(error instanceof SlowConsumerError, `${error}`);
      assert.equal(error.code, "SLOW_CONSUMER");
      assert.match(error.message, /read the table again, then watch again/);
      assert.equal(await dict.size(), 100);
    }));
}
