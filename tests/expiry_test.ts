/**
 * Expiry of CyberDict entries: `set(…, { expireIn })`, `expire`, `persist`,
 * `ttl`; an expired entry is gone for every op, on every engine; the active
 * expiry reclaims entries nobody touches, in bounded steps; snapshots and
 * journal replay keep expiries as absolute times.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadRequestError, type CyberDict, WrongTypeError } from "../mod.ts";
import { atTime } from "../src/store/clock.ts";
import type { DictTable } from "../src/store/dict_table.ts";
import { Store } from "../src/store/store.ts";
import { ENGINES, freshName } from "./_engines.ts";
import { rejectsWith, startServer } from "./_server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_expiry_"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const harness of ENGINES) {
  const name = `${harness.name}: `;
  if (harness.unsupported?.expiry !== undefined) {
    test(`${name}every expiry op is refused with UNSUPPORTED naming the engine, and changes nothing`, {
      skip: harness.unavailable,
    }, async () => {
      const fx = await harness.start();
      try {
        await using proxy = await fx.client.getProxy().connect();
        const dict = await proxy.createCyberDict(freshName("expiry"), { k: 1 });
        for (
          const call of [
            dict.set("k", 2, { expireIn: 1000 }),
            dict.setDefault("n", 2, { expireIn: 1000 }),
            dict.update({ u: 1 }, { expireIn: 1000 }),
            dict.expire("k", 1000),
            dict.persist("k"),
            dict.ttl("k"),
          ]
        ) {
          const error = await rejectsWith(call, Error, "UNSUPPORTED");
          assert.match(error.message, new RegExp(harness.engine));
        }
        assert.deepEqual(await dict.entries(), [["k", 1]]);
      } finally {
        await fx.close();
      }
    });
    continue;
  }
  const withDict = async (body: (dict: CyberDict, more: () => Promise<CyberDict>) => Promise<void>) => {
    const fx = await harness.start();
    try {
      await using proxy = await fx.client.getProxy().connect();
      const table = freshName("expiry");
      const dict = await proxy.createCyberDict(table);
      await body(dict, () => proxy.getCyberDict(table));
    } finally {
      await fx.close();
    }
  };

  test(`${name}an entry set with expireIn is gone for get, has, size, keys, values, entries, iteration and popItem`, {
    skip: harness.unavailable,
  }, async () => {
    await withDict(async (dict) => {
      await dict.set("keep", 1);
      await dict.set("short", 2, { expireIn: 80 });
      await dict.update({ u1: 3, u2: 4 }, { expireIn: 80 });
      assert.equal(await dict.setDefault("sd", 5, { expireIn: 80 }), 5);
      assert.equal(await dict.size(), 5);
      assert.equal(await dict.get("short"), 2);
      await sleep(150);
      assert.equal(await dict.get("short"), undefined);
      assert.equal(await dict.get("short", "fallback"), "fallback");
      assert.equal(await dict.has("u1"), false);
      assert.equal(await dict.size(), 1);
      assert.deepEqual(await dict.keys(), ["keep"]);
      assert.deepEqual(await dict.values(), [1]);
      assert.deepEqual(await dict.entries(), [["keep", 1]]);
      const seen = [];
      for await (const entry of dict) seen.push(entry);
      assert.deepEqual(seen, [["keep", 1]]);
      assert.deepEqual(await dict.popItem(), ["keep", 1]);
      await rejectsWith(dict.popItem(), Error, "KEY_NOT_FOUND");
      assert.equal(await dict.delete("sd"), false);
      assert.equal(await dict.pop("u2", null), null);
    });
  });

  test(`${name}increment of an expired key starts again at 0; of a live one keeps its expiry`, {
    skip: harness.unavailable,
  }, async () => {
    await withDict(async (dict) => {
      await dict.set("n", 41, { expireIn: 60 });
      await dict.set("m", 1, { expireIn: 60_000 });
      assert.equal(await dict.increment("m", 2), 3);
      const ttl = await dict.ttl("m");
      assert.ok(typeof ttl === "number" && ttl > 59_000 && ttl <= 60_000, `ttl ${ttl}`);
      await sleep(120);
      assert.equal(await dict.increment("n"), 1);
      assert.equal(await dict.ttl("n"), null);
    });
  });

  test(`${name}expire, persist and ttl return what DESIGN.md says`, { skip: harness.unavailable }, async () => {
    await withDict(async (dict) => {
      assert.equal(await dict.ttl("missing"), undefined);
      assert.equal(await dict.expire("missing", 1000), false);
      assert.equal(await dict.has("missing"), false, "expire does not create the key");
      assert.equal(await dict.persist("missing"), false);
      await dict.set("k", "v");
      assert.equal(await dict.ttl("k"), null);
      assert.equal(await dict.persist("k"), false, "no expiry to remove");
      assert.equal(await dict.expire("k", 5000), true);
      const ttl = await dict.ttl("k");
      assert.ok(typeof ttl === "number" && ttl > 4000 && ttl <= 5000, `ttl ${ttl}`);
      assert.equal(await dict.persist("k"), true);
      assert.equal(await dict.ttl("k"), null);
      await dict.set("k", "v", { expireIn: 5000 });
      await dict.set("k", "w");
      assert.equal(await dict.ttl("k"), null, "set without expireIn replaces the expiry");
      assert.equal(await dict.setDefault("k", "x", { expireIn: 10 }), "w");
      assert.equal(await dict.ttl("k"), null, "setDefault on a present key changes nothing");
      assert.equal(await dict.expire("k", 0), true);
      assert.equal(await dict.get("k"), undefined, "expire(key, 0) removes it at once");
    });
  });

  test(
    `${name}an expired key set again is a new entry at the end of the order`,
    { skip: harness.unavailable },
    async () => {
      await withDict(async (dict) => {
        await dict.set("a", 1, { expireIn: 50 });
        await dict.set("b", 2);
        await sleep(100);
        await dict.set("a", 3);
        assert.deepEqual(await dict.entries(), [["b", 2], ["a", 3]]);
      });
    },
  );

  test(`${name}bad expiry options are refused with BAD_REQUEST and change nothing`, {
    skip: harness.unavailable,
  }, async () => {
    await withDict(async (dict) => {
      await rejectsWith(dict.set("k", 1, { expireIn: -1 }), BadRequestError, "BAD_REQUEST");
      await rejectsWith(dict.set("k", 1, { expireIn: Infinity }), BadRequestError, "BAD_REQUEST");
      await rejectsWith(dict.expire("k", Number.NaN), BadRequestError, "BAD_REQUEST");
      await rejectsWith(dict.update({ k: 1 }, { expireIn: "1s" as unknown as number }), BadRequestError, "BAD_REQUEST");
      assert.equal(await dict.has("k"), false);
      await dict.set("s", "text", { expireIn: 5000 });
      await rejectsWith(dict.increment("s"), WrongTypeError, "WRONG_TYPE");
    });
  });
}

test("the active expiry removes 200,000 expired entries nobody touches, in steps of about 1 ms", () => {
  const store = new Store();
  store.apply("create", "d", ["CyberDict"]);
  store.apply("create", "e", ["CyberDict"]);
  const table = store.tables.get("d") as DictTable;
  const t0 = Date.now();
  atTime(t0, () => {
    for (let i = 0; i < 200_000; i++) table.set(`k${i}`, i, t0 + 10);
    for (let i = 0; i < 1000; i++) table.set(`keep${i}`, i);
  });
  assert.equal(table.expiring, 200_000);
  const times: number[] = [];
  atTime(t0 + 20, () => {
    for (let busy = true; busy && times.length < 10_000;) {
      const start = performance.now();
      busy = store.expireSome(start + 1);
      times.push(performance.now() - start);
    }
  });
  assert.equal(table.expiring, 0);
  assert.equal(table.size, 1000);
  assert.ok(times.length > 1, `${times.length} cycles`);
  // A cycle reads the clock every 256 entries and stops at its deadline: about 1 ms. (The median, as a
  // loaded machine preempts the odd cycle for tens of ms whatever it does.)
  const median = times.sort((a, b) => a - b)[times.length >> 1];
  assert.ok(median < 3, `median cycle ${median.toFixed(2)} ms`);
  assert.deepEqual(table.keys().slice(0, 2), ["keep0", "keep1"]);
});

test("the server's active expiry reclaims expired entries without any client touching them", async () => {
  const fx = await startServer();
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("sessions");
    await dict.update(Array.from({ length: 5000 }, (_, i): [string, number] => [`s${i}`, i]), { expireIn: 1000 });
    await dict.set("keep", true, { expireIn: 60_000 });
    assert.ok((await proxy.info()).tables[0].expiring! > 1, "the entries are there, with their expiry");
    const deadline = Date.now() + 10_000;
    let tables = (await proxy.info()).tables;
    while (tables[0].expiring !== 1 && Date.now() < deadline) {
      await sleep(50);
      tables = (await proxy.info()).tables;
    }
    assert.deepEqual(tables, [{ name: "sessions", type: "CyberDict", size: 1, expiring: 1 }]);
  } finally {
    await fx.close();
  }
});

test("a snapshot keeps expiries as absolute times, and a snapshot loaded later drops what expired meanwhile", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "s.cdb");
    const fx = await startServer();
    try {
      await using proxy = await fx.client.getProxy().connect();
      const dict = await proxy.createCyberDict("d");
      await dict.set("short", 1, { expireIn: 150 });
      await dict.set("long", 2, { expireIn: 60_000 });
      await dict.set("forever", 3);
      await dict.set("gone", 4, { expireIn: 1 });
      await sleep(5);
      await fx.server.save(path);
    } finally {
      await fx.close();
    }
    await sleep(200);
    const fy = await startServer();
    try {
      await fy.server.load(path);
      await using proxy = await fy.client.getProxy().connect();
      const dict = await proxy.getCyberDict("d");
      assert.deepEqual(await dict.entries(), [["long", 2], ["forever", 3]]);
      const ttl = await dict.ttl("long");
      assert.ok(typeof ttl === "number" && ttl > 55_000 && ttl < 59_900, `ttl ${ttl}: not restarted from 60 s`);
      assert.equal(await dict.ttl("forever"), null);
    } finally {
      await fy.close();
    }
  });
});

test("journal replay decides as the original did: expiries are not extended, persist and increment replay exactly", async () => {
  await inTempDir(async (dir) => {
    const journal = { path: join(dir, "j"), fsync: "always" as const };
    const fx = await startServer({ journal });
    try {
      await using proxy = await fx.client.getProxy().connect();
      const dict = await proxy.createCyberDict("d");
      await dict.set("short", 1, { expireIn: 150 });
      await dict.set("long", 2, { expireIn: 60_000 });
      await dict.set("saved", 3, { expireIn: 150 });
      assert.equal(await dict.persist("saved"), true); // live when applied: kept forever, even replayed later
      await dict.set("counter", 10, { expireIn: 150 });
      assert.equal(await dict.increment("counter"), 11);
      await sleep(250);
      assert.equal(await dict.setDefault("counter", 100), 100); // expired by now: a new key
    } finally {
      await fx.close();
    }
    await sleep(100);
    const fy = await startServer({ journal });
    try {
      await using proxy = await fy.client.getProxy().connect();
      const dict = await proxy.getCyberDict("d");
      assert.deepEqual(await dict.entries(), [["long", 2], ["saved", 3], ["counter", 100]]);
      const ttl = await dict.ttl("long");
      assert.ok(typeof ttl === "number" && ttl < 59_700, `ttl ${ttl}: the replay did not restart it`);
      assert.equal(await dict.ttl("saved"), null);
      assert.equal(await dict.ttl("counter"), null);
    } finally {
      await fy.close();
    }
  });
});
