/**
 * The journal's replay and policies: replay rebuilds exactly the state the
 * server had (with compactions too); every fsync policy recovers; a bad policy
 * is refused; a snapshot does not stall other clients; compaction, restart and
 * load() while journaling lose nothing and apply nothing twice.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { type Client, connect, CyberDict, CyberList, type FsyncPolicy, type Proxy, Server } from "../mod.ts";
import { spawnServer } from "./_child_server.ts";
import { mulberry32 } from "./_random.ts";
import {
  bytesOf,
  digest,
  dumpTables,
  exists,
  inTempDir,
  journalEpoch,
  recoveredList,
  serveJournal,
  sleep,
  within,
} from "./_journal.ts";

// ---------------------------------------------------------------------------
// 4. Replay rebuilds exactly the same state
// ---------------------------------------------------------------------------

function randomValue(random: () => number, depth = 0): unknown {
  const int = (n: number) => Math.floor(random() * n);
  switch (int(depth > 1 ? 7 : 9)) {
    case 0:
      return int(2000) - 1000;
    case 1:
      return (random() - 0.5) * 1e6;
    case 2:
      return `s${int(1000)}`;
    case 3:
      return [null, true, false, 0, "", 1n][int(6)];
    case 4:
      return BigInt(int(1e9)) * 10n ** BigInt(int(30)) * (random() < 0.5 ? -1n : 1n);
    case 5:
      return new Date(1_700_000_000_000 + int(1e10));
    case 6:
      return Uint8Array.from({ length: int(8) }, () => int(256));
    case 7:
      return Array.from({ length: int(4) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`f${i}`, randomValue(random, depth + 1)]));
  }
}

/** Applies `count` seeded random changes (many of which fail on purpose) over several tables. */
async function randomChanges(proxy: Proxy, seed: number, count: number): Promise<{ ok: number; failed: number }> {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const key = () => random() < 0.7 ? int(200) : `k${int(50)}`;
  const d = new CyberDict(proxy, "d"), t = new CyberDict(proxy, "t");
  const l = new CyberList(proxy, "l"), nums = new CyberList<number>(proxy, "nums");
  const objs = new CyberList(proxy, "objs"), tl = new CyberList(proxy, "tl");
  await proxy.createCyberDict("d");
  await proxy.createCyberList("l");
  await proxy.createCyberList("nums");
  await proxy.createCyberList("objs");
  const ops: (() => Promise<unknown>)[] = [
    () => d.set(key(), randomValue(random)),
    () => d.set(key(), randomValue(random)),
    () => d.delete(key()),
    () => d.increment(`c${int(10)}`, random() < 0.8 ? int(100) - 50 : (random() - 0.5) * 10),
    () => random() < 0.5 ? d.pop(key(), null) : d.pop(key()),
    () => d.popItem(),
    () => d.setDefault(key(), randomValue(random)),
    () => d.update(Array.from({ length: int(5) }, () => [key(), randomValue(random)] as [string | number, unknown])),
    () => random() < 0.05 ? d.clear() : d.get(key()),
    () => l.push(...Array.from({ length: 1 + int(3) }, () => randomValue(random))),
    () => l.pop(random() < 0.5 ? undefined : int(40) - 20),
    () => l.shift(),
    () => l.unshift(randomValue(random)),
    () => l.insert(int(60) - 30, randomValue(random)),
    () => l.set(int(60) - 30, randomValue(random)),
    () => l.splice(int(40) - 20, int(4), ...Array.from({ length: int(3) }, () => randomValue(random))),
    () => l.reverse(),
    () => l.remove(randomValue(random)),
    () => l.sort(),
    () => random() < 0.03 ? l.clear() : l.length(),
    () => nums.push(int(1000), int(1000)),
    () => nums.sort({ descending: random() < 0.5 }),
    () => nums.splice(int(20), int(3), int(1000)),
    () => nums.pop(),
    () => objs.push({ a: { b: int(100) }, n: int(10) }),
    () => objs.sort({ by: random() < 0.5 ? "a.b" : "n", descending: random() < 0.3 }),
    () => random() < 0.5 ? proxy.createCyberDict("t", { x: int(10) }) : proxy.deleteTable("t"),
    () => t.set(key(), randomValue(random)),
    () => random() < 0.5 ? proxy.createCyberList("tl", [int(10), int(10)]) : proxy.deleteTable("tl"),
    () => tl.push(randomValue(random)),
  ];
  let ok = 0, failed = 0;
  for (let done = 0; done < count;) {
    const batch = Array.from({ length: Math.min(250, count - done) }, () => ops[int(ops.length)]());
    done += batch.length;
    for (const result of await Promise.allSettled(batch)) result.status === "fulfilled" ? ok++ : failed++;
  }
  return { ok, failed };
}

async function replayIsExact(maxSize?: number): Promise<void> {
  await inTempDir(async (dir) => {
    const journal = { path: `${dir}/j`, fsync: "no" as const, maxSize };
    const first = new Server();
    let before: unknown[];
    try {
      const { port } = await first.start({ port: 0, journal });
      const client = await connect({ port });
      try {
        await using proxy = await client.getProxy().connect();
        const { ok, failed } = await randomChanges(proxy, 0xdb + (maxSize ?? 0), 10_000);
        assert.ok(ok > 6000 && failed > 100, `${ok} ops succeeded, ${failed} failed`);
        before = await dumpTables(proxy);
      } finally {
        await client.close();
      }
    } finally {
      await first.close();
    }
    const epoch = journalEpoch(await bytesOf(journal.path));
    if (maxSize !== undefined) assert.ok(epoch > 3, `only ${epoch - 1} compactions with maxSize ${maxSize}`);
    else assert.equal(epoch, 1);

    const second = new Server();
    try {
      const { port } = await second.start({ port: 0, journal });
      const client = await connect({ port });
      try {
        await using proxy = await client.getProxy().connect();
        const after = await dumpTables(proxy);
        assert.equal(await digest(after), await digest(before));
        assert.deepEqual(after, before);
      } finally {
        await client.close();
      }
    } finally {
      await second.close();
    }
  });
}

test("replaying the journal into a new Server rebuilds exactly the state of 10,000 random ops", async () => {
  await replayIsExact();
});

test("replay is exact when compactions happen throughout the 10,000 random ops", async () => {
  await replayIsExact(16 * 1024);
});

// ---------------------------------------------------------------------------
// 5. fsync policies
// ---------------------------------------------------------------------------

test("every fsync policy keeps writes across a clean close and a restart", async () => {
  for (const fsync of ["always", "everysec", "no"] as const) {
    await inTempDir(async (dir) => {
      const journal = { path: `${dir}/j`, fsync };
      const first = new Server();
      try {
        const { port } = await first.start({ port: 0, journal });
        const client = await connect({ port });
        try {
          await using proxy = await client.getProxy().connect();
          const dict = await proxy.createCyberDict<number>("d");
          const list = await proxy.createCyberList<number>("l");
          await Promise.all(Array.from({ length: 200 }, (_, i) => [dict.set(i, i * i), list.push(i)]).flat());
        } finally {
          await client.close();
        }
      } finally {
        await first.close();
      }
      const second = new Server();
      try {
        const { port } = await second.start({ port: 0, journal });
        const client = await connect({ port });
        try {
          await using proxy = await client.getProxy().connect();
          const dict = await proxy.getCyberDict<number>("d");
          assert.equal(await dict.size(), 200, fsync);
          assert.equal(await dict.get(199), 199 * 199, fsync);
          assert.deepEqual(await (await proxy.getCyberList("l")).toArray(), Array.from({ length: 200 }, (_, i) => i));
        } finally {
          await client.close();
        }
      } finally {
        await second.close();
      }
    });
  }
});

test("an invalid fsync policy is refused: start() with a TypeError, server.ts with exit 2", async () => {
  await inTempDir(async (dir) => {
    const server = new Server();
    try {
      await assert.rejects(
        server.start({ port: 0, journal: { path: `${dir}/j`, fsync: "sometimes" as FsyncPolicy } }),
        (error: unknown) => error instanceof TypeError && /sometimes/.test(error.message),
      );
    } finally {
      await server.close();
    }
    assert.equal(await exists(`${dir}/j`), false, "a journal was created anyway");
    const cli = spawnServer(["--port", "0", "--journal", `${dir}/j`, "--fsync", "sometimes"]);
    try {
      assert.equal((await cli.exit()).code, 2, cli.stderr);
      assert.match(cli.stderr, /--fsync/);
      assert.match(cli.stderr, /Usage:/);
    } finally {
      await cli.kill();
    }
    assert.equal(await exists(`${dir}/j`), false);
  });
});

// ---------------------------------------------------------------------------
// 6. A snapshot does not stall other clients
// ---------------------------------------------------------------------------

test("save() of 200,000 entries does not stall a client doing gets meanwhile", async () => {
  await inTempDir(async (dir) => {
    const server = new Server();
    const clients: Client[] = [];
    try {
      const { port } = await server.start({ port: 0 });
      clients.push(await connect({ port }), await connect({ port }));
      await using loader = await clients[0].getProxy().connect();
      const big = await loader.createCyberDict<unknown>("big");
      for (let start = 0; start < 200_000; start += 10_000) {
        await big.update(
          Array.from({ length: 10_000 }, (_, i) => [start + i, { n: start + i, s: `value ${start + i}` }] as const),
        );
      }
      assert.equal(await big.size(), 200_000);

      await using reader = await clients[1].getProxy().connect();
      const dict = await reader.getCyberDict<{ n: number }>("big");
      let saved = false;
      const saving = server.save(`${dir}/big.cdb`).finally(() => saved = true);
      let last = performance.now(), maxGap = 0, gets = 0;
      const until = last + 30_000;
      while (!saved && performance.now() < until) {
        const key = gets % 200_000;
        assert.equal((await dict.get(key))?.n, key);
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        gets++;
      }
      await within(saving, 30_000, "save");
      console.log(`save of 200,000 entries: ${gets} gets served meanwhile, longest gap ${maxGap.toFixed(1)} ms`);
      assert.ok(gets > 1, `only ${gets} gets while saving`);
      assert.ok(maxGap < 500, `a get waited ${maxGap.toFixed(1)} ms while saving`);
      assert.ok((await stat(`${dir}/big.cdb`)).size > 200_000 * 10);
    } finally {
      for (const client of clients) await client.close();
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------
// Compaction, load and restarts must not lose or repeat changes
// ---------------------------------------------------------------------------

test("a compaction whose snapshot fails loses nothing: the next one does not replace <journal>.old", async () => {
  await inTempDir(async (dir) => {
    const journal = { path: `${dir}/j`, fsync: "no" as const, maxSize: 2048 };
    // A snapshot path that cannot be written (a directory that is not empty): every compaction fails
    // after moving the journal aside. The first start already wrote <journal>.snapshot.
    await mkdir(`${dir}/blocked`);
    await writeFile(`${dir}/blocked/file`, "");
    const server = new Server();
    try {
      await serveJournal(server, journal, async (proxy) => {
        server.setBackup(`${dir}/blocked`, { interval: 0 });
        const list = await proxy.createCyberList<number>("l");
        for (let i = 0; i < 600; i++) await list.push(i);
      });
    } finally {
      await server.close();
    }
    assert.equal(server.info().lastSnapshot?.ok, false, "no snapshot failed: the test did not test anything");
    const items = await recoveredList({ path: journal.path });
    assert.deepEqual(items, Array.from({ length: 600 }, (_, i) => i));
  });
});

test("restarting the same Server object on its journal does not apply the journal twice", async () => {
  await inTempDir(async (dir) => {
    const journal = { path: `${dir}/j`, fsync: "no" as const };
    const first = new Server();
    try {
      await serveJournal(first, journal, async (proxy) => void await (await proxy.createCyberList("l")).push(1));
    } finally {
      await first.close();
    }
    // This one loads <journal>.snapshot at its first start, then is closed and started again.
    const server = new Server();
    try {
      await serveJournal(server, journal, async (proxy) => void await (await proxy.getCyberList("l")).push(2));
      await server.close();
      await serveJournal(server, journal, async (proxy) => {
        const list = await proxy.getCyberList("l");
        assert.deepEqual(await list.toArray(), [1, 2]);
        await list.push(3);
      });
    } finally {
      await server.close();
    }
    assert.deepEqual(await recoveredList(journal), [1, 2, 3]);
  });
});

test("load() while journaling: a change acknowledged after it is recoverable from the files at that moment", async () => {
  await inTempDir(async (dir) => {
    // A big snapshot to load, so that writing the compaction's snapshot takes a while.
    const source = new Server();
    try {
      await serveJournal(source, { path: `${dir}/source-j` }, async (proxy) => {
        const big = await proxy.createCyberList<number>("l");
        for (let start = 0; start < 200_000; start += 20_000) {
          await big.push(...Array.from({ length: 20_000 }, (_, i) => start + i));
        }
      });
      await source.save(`${dir}/big.cdb`);
    } finally {
      await source.close();
    }
    const journal = { path: `${dir}/j`, fsync: "always" as const };
    const crash = `${dir}/crash`;
    await mkdir(crash);
    const server = new Server();
    try {
      await serveJournal(server, journal, async (proxy) => {
        await proxy.createCyberDict("before");
        const loading = server.load(`${dir}/big.cdb`);
        // Once the loaded tables are in place, change one and wait for the acknowledgement.
        for (let i = 0; i < 2000 && !(await proxy.tables()).some((table) => table.name === "l"); i++) await sleep(1);
        assert.equal(await (await proxy.getCyberList<number>("l")).push(-1), 200_001);
        // A crash now: the files as they are at this instant.
        for (const name of ["j", "j.old", "j.snapshot"]) {
          try {
            copyFileSync(`${dir}/${name}`, `${crash}/${name}`);
          } catch (error) {
            if ((error as { code?: string }).code !== "ENOENT") throw error;
          }
        }
        await within(loading, 30_000, "load");
      });
    } finally {
      await server.close();
    }
    const items = await recoveredList({ path: `${crash}/j` });
    assert.equal(items.length, 200_001);
    assert.equal(items.at(-1), -1);
    assert.deepEqual(await recoveredList(journal), items);
  });
});
