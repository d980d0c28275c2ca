/**
 * Atomic batches on every engine: all or nothing in one request; a failed
 * check applies nothing and says which; a failed op applies nothing, leaves
 * every table exactly as it was and names the op; the bank transfer keeps
 * its total under concurrent check-and-set clients. The tables of a batch
 * share a hash tag (`{group}name`), which Redis needs to keep them in one
 * slot; on Redis a batch over several slots is refused.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type AtomicOpError, BadRequestError, type Client, type CyberDict, WrongTypeError } from "../mod.ts";
import { ENGINES, freshName } from "./_engines.ts";
import { mulberry32 } from "./_random.ts";
import { rejectsWith } from "./_server.ts";

/** A fresh table name in `group`: the shared hash tag keeps a batch's tables in one Redis slot. */
function grouped(group: string, prefix: string): string {
  return `{${group}}${freshName(prefix)}`;
}

for (const harness of ENGINES) {
  const name = `${harness.name}: `;
  if (harness.unsupported?.atomic !== undefined) {
    test(`${name}commit() is refused with UNSUPPORTED naming the engine, and applies nothing`, {
      skip: harness.unavailable,
    }, async () => {
      const fx = await harness.start();
      try {
        await using proxy = await fx.client.getProxy().connect();
        const dict = await proxy.createCyberDict(freshName("d"), { a: 1 });
        const error = await rejectsWith(
          proxy.atomic().check(dict, "a", 1).set(dict, "a", 2).commit(),
          Error,
          "UNSUPPORTED",
        );
        assert.match(error.message, new RegExp(harness.engine));
        assert.equal(await dict.get("a"), 1);
      } finally {
        await fx.close();
      }
    });
    continue;
  }
  const withClient = async (body: (client: Client, another: () => Promise<Client>) => Promise<void>) => {
    const fx = await harness.start();
    try {
      await body(fx.client, () => fx.connectAnother());
    } finally {
      await fx.close();
    }
  };

  test(`${name}a batch of checks and writes on a dict and a list is applied in one request`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const group = freshName("bank");
      const accounts = await proxy.createCyberDict<number>(grouped(group, "accounts"), { alice: 100 });
      const ledger = await proxy.createCyberList(grouped(group, "ledger"));
      const result = await proxy.atomic()
        .check(accounts, "alice", 100)
        .check(accounts, "bob", undefined)
        .set(accounts, "alice", 50)
        .increment(accounts, "bob", 50)
        .push(ledger, { from: "alice", to: "bob", amount: 50 })
        .commit();
      assert.deepEqual(result, { ok: true, results: [undefined, 50, 1] });
      assert.deepEqual(await accounts.entries(), [["alice", 50], ["bob", 50]]);
      assert.deepEqual(await ledger.toArray(), [{ from: "alice", to: "bob", amount: 50 }]);
    });
  });

  test(`${name}a failed check applies nothing and says which check failed`, { skip: harness.unavailable }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const group = freshName("g");
      const dict = await proxy.createCyberDict(grouped(group, "d"), { a: { n: [1, 2] }, o: { x: 1, y: [2] } });
      const list = await proxy.createCyberList(grouped(group, "l"), ["x"]);
      // Deep equality: { y, x } matches the stored { x, y }, whatever the order of keys.
      const batch = () =>
        proxy.atomic().check(dict, "a", { n: [1, 2] }).check(list, 0, "x").check(dict, "o", { y: [2], x: 1 })
          .set(dict, "b", 1);
      assert.deepEqual(await batch().check(list, 1, "y").commit(), { ok: false, failed: 3 });
      assert.deepEqual(await batch().check(dict, "zzz", null).commit(), { ok: false, failed: 3 });
      assert.deepEqual(await batch().check(dict, "o", { x: 1, y: [3] }).commit(), { ok: false, failed: 3 });
      assert.deepEqual(
        await proxy.atomic().check(dict, "a", undefined).push(list, "never").commit(),
        { ok: false, failed: 0 },
      );
      assert.deepEqual(await dict.entries(), [["a", { n: [1, 2] }], ["o", { x: 1, y: [2] }]]);
      assert.deepEqual(await list.toArray(), ["x"]);
      assert.deepEqual(await batch().check(list, 1, undefined).commit(), { ok: true, results: [undefined] });
    });
  });

  test(`${name}an op failing in the middle leaves every table exactly as it was, and the error names the op`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const group = freshName("g");
      // Redis has no expiry, and sorts on the client: its batches leave those steps out.
      const expiry = harness.unsupported?.expiry === undefined, sorts = harness.engine !== "redis";
      const dict = await proxy.createCyberDict(grouped(group, "d"));
      for (let i = 0; i < 20; i++) await dict.set(`k${i}`, i % 3 === 0 ? "text" : i);
      if (expiry) await dict.set("ttl", 1, { expireIn: 60_000 });
      const other = await proxy.createCyberDict(grouped(group, "o"), { x: 1, y: 2 });
      const list = await proxy.createCyberList(grouped(group, "l"), [5, 3, 9, 1]);
      const before = [await dict.entries(), await other.entries(), await list.toArray()];
      const batch = proxy.atomic()
        .set(dict, "k1", "a different length of value")
        .set(dict, "new", 1)
        .delete(dict, "k5")
        .popItem(dict)
        .update(dict, { k7: 70, k8: "eighty", fresh: true })
        .setDefault(dict, "k9", "kept")
        .setDefault(dict, "brand new", "default");
      if (expiry) batch.persist(dict, "ttl");
      batch.pop(dict, "k2")
        .clear(other)
        .set(other, "z", 26)
        .push(list, 7, 8)
        .unshift(list, 0, -1)
        .shift(list);
      if (sorts) batch.sort(list);
      batch.insert(list, 1, "in")
        .splice(list, 2, 1, "spliced")
        .reverse(list)
        .pop(list, 0)
        .pop(list)
        .set(list, 0, "first");
      const failing = 19 + (expiry ? 1 : 0) + (sorts ? 1 : 0);
      batch.increment(dict, "k0") // "text": WRONG_TYPE
        .push(list, "never");
      const error = await rejectsWith(batch.commit(), WrongTypeError, "WRONG_TYPE") as AtomicOpError;
      assert.equal(error.index, failing);
      assert.match(error.message, new RegExp(`^atomic op ${failing} \\(d\\.increment`));
      assert.match(error.message, /holds string, not a number/);
      assert.deepEqual([await dict.entries(), await other.entries(), await list.toArray()], before);
      if (expiry) {
        const ttl = await dict.ttl("ttl");
        assert.ok(typeof ttl === "number" && ttl > 50_000, `the expiry is back: ${ttl}`);
      }
      // The tables work on as before, the order of keys too.
      await dict.set("after", 1);
      assert.deepEqual((await dict.keys()).slice(-2), [expiry ? "ttl" : "k19", "after"]);
      // A failing op after a clear of the list puts all of it back.
      await rejectsWith(
        proxy.atomic().clear(list).push(list, 1).set(list, 5, "out of range").commit(),
        Error,
        "INDEX_OUT_OF_RANGE",
      );
      assert.deepEqual(await list.toArray(), before[2]);
      await rejectsWith(proxy.atomic().clear(dict).popItem(dict).commit(), Error, "KEY_NOT_FOUND");
      assert.deepEqual((await dict.keys()).slice(-2), [expiry ? "ttl" : "k19", "after"]);
    });
  });

  test(`${name}a batch over tables without a shared hash tag: one step on every engine but a Redis one`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const a = await proxy.createCyberDict(freshName("a"), { n: 1 }), b = await proxy.createCyberList(freshName("b"));
      const commit = proxy.atomic().check(a, "n", 1).set(a, "n", 2).push(b, "x").commit();
      if (harness.engine === "redis") {
        const error = await rejectsWith(commit, Error, "UNSUPPORTED");
        assert.match(error.message, /redis engine/);
        assert.match(error.message, /one slot/);
        assert.match(error.message, /shared hash tag/);
        assert.match(error.message, /\{bank\}/);
        assert.equal(await a.get("n"), 1);
        assert.deepEqual(await b.toArray(), []);
      } else {
        assert.deepEqual(await commit, { ok: true, results: [undefined, 1] });
      }
    });
  });

  test(`${name}a batch with a read op, an unknown table or a malformed step is refused`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const group = freshName("g");
      const dict = await proxy.createCyberDict(grouped(group, "d"));
      await rejectsWith(proxy.request("atomic", "", [[["d.get", dict.name, "k"]]]), BadRequestError, "BAD_REQUEST");
      await rejectsWith(proxy.request("atomic", "", [[]]), BadRequestError, "BAD_REQUEST");
      await rejectsWith(proxy.request("atomic", "", [[["check", dict.name]]]), BadRequestError, "BAD_REQUEST");
      const missing = await rejectsWith(
        proxy.atomic().set(dict, "a", 1).set({ name: grouped(group, "gone") } as CyberDict, "b", 2).commit(),
        Error,
        "NO_SUCH_TABLE",
      ) as AtomicOpError;
      assert.equal(missing.index, 1);
      assert.equal(await dict.has("a"), false);
    });
  });

  test(`${name}bank transfer: 8 clients, 10 accounts, 2,000 check-and-set transfers conserve the total exactly`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client, another) => {
      const table = freshName("bank");
      {
        await using proxy = await client.getProxy().connect();
        await proxy.createCyberDict(
          table,
          Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`acct${i}`, 1000])),
        );
      }
      const clients = [client, ...await Promise.all(Array.from({ length: 7 }, () => another()))];
      let retries = 0;
      const deadline = Date.now() + 120_000;
      await Promise.all(clients.map(async (c, w) => {
        const random = mulberry32(w + 1);
        await using proxy = await c.getProxy().connect();
        const accounts = await proxy.getCyberDict<number>(table);
        for (let done = 0; done < 250;) {
          assert.ok(Date.now() < deadline, "2,000 transfers within 120 s");
          const from = `acct${Math.floor(random() * 10)}`, to = `acct${Math.floor(random() * 10)}`;
          if (from === to) continue;
          const [a, b] = await Promise.all([accounts.get(from), accounts.get(to)]);
          const amount = Math.min(a!, 1 + Math.floor(random() * 200));
          const result = await proxy.atomic()
            .check(accounts, from, a)
            .check(accounts, to, b)
            .set(accounts, from, a! - amount)
            .set(accounts, to, b! + amount)
            .commit();
          if (result.ok) done++;
          else retries++;
        }
      }));
      await using proxy = await client.getProxy().connect();
      const balances = Object.values(await (await proxy.getCyberDict<number>(table)).toObject());
      assert.equal(balances.reduce((sum, n) => sum + n, 0), 10_000);
      assert.ok(balances.every((n) => n >= 0), `no account negative: ${balances}`);
      console.log(`${harness.name}: 2,000 transfers, ${retries} retries after a failed check`);
    });
  });
}
