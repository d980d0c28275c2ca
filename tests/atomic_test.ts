/**
 * Atomic batches on every engine: all or nothing in one request; a failed
 * check applies nothing and says which; a failed op applies nothing, leaves
 * every table exactly as it was and names the op; the bank transfer keeps
 * its total under concurrent check-and-set clients.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type AtomicOpError, BadRequestError, type Client, type CyberDict, WrongTypeError } from "../mod.ts";
import { ENGINES, freshName } from "./_engines.ts";
import { mulberry32 } from "./_random.ts";
import { rejectsWith } from "./_server.ts";

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
      const accounts = await proxy.createCyberDict<number>(freshName("accounts"), { alice: 100 });
      const ledger = await proxy.createCyberList(freshName("ledger"));
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
      const dict = await proxy.createCyberDict(freshName("d"), { a: { n: [1, 2] } });
      const list = await proxy.createCyberList(freshName("l"), ["x"]);
      const batch = () => proxy.atomic().check(dict, "a", { n: [1, 2] }).check(list, 0, "x").set(dict, "b", 1);
      assert.deepEqual(await batch().check(list, 1, "y").commit(), { ok: false, failed: 2 });
      assert.deepEqual(await batch().check(dict, "zzz", null).commit(), { ok: false, failed: 2 });
      assert.deepEqual(
        await proxy.atomic().check(dict, "a", undefined).push(list, "never").commit(),
        { ok: false, failed: 0 },
      );
      assert.deepEqual(await dict.entries(), [["a", { n: [1, 2] }]]);
      assert.deepEqual(await list.toArray(), ["x"]);
      assert.deepEqual(await batch().check(list, 1, undefined).commit(), { ok: true, results: [undefined] });
    });
  });

  test(`${name}an op failing in the middle leaves every table exactly as it was, and the error names the op`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict(freshName("d"));
      for (let i = 0; i < 20; i++) await dict.set(`k${i}`, i % 3 === 0 ? "text" : i);
      await dict.set("ttl", 1, { expireIn: 60_000 });
      const other = await proxy.createCyberDict(freshName("o"), { x: 1, y: 2 });
      const list = await proxy.createCyberList(freshName("l"), [5, 3, 9, 1]);
      const before = [await dict.entries(), await other.entries(), await list.toArray()];
      const error = await rejectsWith(
        proxy.atomic()
          .set(dict, "k1", "a different length of value")
          .set(dict, "new", 1)
          .delete(dict, "k5")
          .popItem(dict)
          .update(dict, { k7: 70, k8: "eighty", fresh: true })
          .persist(dict, "ttl")
          .pop(dict, "k2")
          .clear(other)
          .set(other, "z", 26)
          .push(list, 7, 8)
          .sort(list)
          .insert(list, 1, "in")
          .pop(list)
          .set(list, 0, "first")
          .increment(dict, "k0") // "text": WRONG_TYPE
          .push(list, "never")
          .commit(),
        WrongTypeError,
        "WRONG_TYPE",
      ) as AtomicOpError;
      assert.equal(error.index, 14);
      assert.match(error.message, /^atomic op 14 \(d\.increment/);
      assert.deepEqual([await dict.entries(), await other.entries(), await list.toArray()], before);
      const ttl = await dict.ttl("ttl");
      assert.ok(typeof ttl === "number" && ttl > 50_000, `the expiry is back: ${ttl}`);
      // The tables work on as before.
      await dict.set("after", 1);
      assert.deepEqual((await dict.keys()).slice(-2), ["ttl", "after"]);
    });
  });

  test(`${name}a batch with a read op, an unknown table or a malformed step is refused`, {
    skip: harness.unavailable,
  }, async () => {
    await withClient(async (client) => {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict(freshName("d"));
      await rejectsWith(proxy.request("atomic", "", [[["d.get", dict.name, "k"]]]), BadRequestError, "BAD_REQUEST");
      await rejectsWith(proxy.request("atomic", "", [[]]), BadRequestError, "BAD_REQUEST");
      await rejectsWith(proxy.request("atomic", "", [[["check", dict.name]]]), BadRequestError, "BAD_REQUEST");
      const missing = await rejectsWith(
        proxy.atomic().set(dict, "a", 1).set({ name: freshName("gone") } as CyberDict, "b", 2).commit(),
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
