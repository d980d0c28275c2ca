/**
 * Snapshots: save → load round trips of every value type, refusing missing,
 * truncated and corrupt files without touching the current tables, periodic
 * backups and atomic writes.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, connect, Server, SnapshotCorruptError } from "../mod.ts";
import { startServer } from "./_server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asserts that `promise` rejects with a {@link SnapshotCorruptError} whose message names `path`. */
async function rejectsCorrupt(
  promise: Promise<unknown>,
  path: string,
): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, "expected SNAPSHOT_CORRUPT, but it resolved");
  assert.ok(
    caught instanceof SnapshotCorruptError,
    `expected a SnapshotCorruptError, got ${String(caught)}`,
  );
  assert.equal(caught.code, "SNAPSHOT_CORRUPT");
  assert.ok(
    caught.message.includes(path),
    `the message does not name ${path}: ${caught.message}`,
  );
}

/** A started server with a connected client, loaded from `path` first when given. */
async function serve(path?: string) {
  const server = new Server();
  if (path !== undefined) await server.load(path);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  let client: Client;
  try {
    client = await connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    server,
    client,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

/** Every value type, including the falsy ones and the awkward ones. */
const VALUES: [string, unknown][] = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["zero", 0],
  ["negative", -42],
  ["float", 3.141592653589793],
  ["negative float", -0.000123],
  ["large int", Number.MAX_SAFE_INTEGER],
  ["large negative int", -Number.MAX_SAFE_INTEGER],
  ["2^40", 2 ** 40],
  ["huge float", 1.7976931348623157e308],
  ["tiny float", 5e-324],
  ["small bigint", 5n],
  ["negative bigint", -12345678901234567890n],
  ["int64 bigint", 2n ** 63n - 1n],
  ["huge bigint", 2n ** 300n],
  ["negative huge bigint", -(3n ** 200n)],
  ["empty string", ""],
  ["string", "Hello CyberDB!"],
  ["unicode", "héllo wörld ✓ 中文 🚀 \u0000 nul inside"],
  ["empty bytes", new Uint8Array(0)],
  ["bytes", new Uint8Array([0, 1, 2, 254, 255])],
  ["date", new Date("2024-02-29T12:34:56.789Z")],
  ["epoch", new Date(0)],
  ["empty array", []],
  ["empty object", {}],
  ["nested", {
    name: "Ada",
    tags: ["a", "", 0, false, null],
    address: { city: "London", zip: "N1", geo: [51.5, -0.1] },
    born: new Date("1815-12-10T00:00:00.000Z"),
    id: 2n ** 100n,
    raw: new Uint8Array([9, 8, 7]),
    deep: [[[[{ x: [1, [2, [3]]] }]]]],
  }],
  ["negative zero", -0],
  ["lone surrogates", "x\uD800y\uDFFF"],
  ["map", new Map<unknown, unknown>([[1, "number"], ["1", "string"], [{ k: 1 }, new Set([-0, "\uDBFF"])]])],
  ["set", new Set([1, "1", [1]])],
  ["__proto__ key", JSON.parse('{"__proto__": 1}')],
];

test("save → load round-trips every value type, both table kinds, key types and table order into a new Server", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/data.cdb`;
  try {
    const first = await serve();
    try {
      await using proxy = await first.client.getProxy().connect();
      const values = await proxy.createCyberDict("values");
      for (const [key, value] of VALUES) await values.set(key, value);
      const keys = await proxy.createCyberDict("keys");
      await keys.set(1, "number one");
      await keys.set("1", "string one");
      await keys.set(0, "number zero");
      await keys.set("", "empty string key");
      await keys.set(-1.5, "float key");
      await keys.set("\uD800", "lone high surrogate");
      await keys.set("\uDBFF", "another lone high surrogate");
      await keys.set("\uFFFD", "replacement character");
      const list = await proxy.createCyberList(
        "list",
        VALUES.map(([, value]) => value),
      );
      await list.push("last");
      await proxy.createCyberList("empty list");
      await proxy.createCyberDict("empty dict");
      await proxy.createCyberDict("ünïcødé 表");
      await first.server.save(path);
    } finally {
      await first.close();
    }

    const second = await serve(path);
    try {
      await using proxy = await second.client.getProxy().connect();
      assert.deepEqual(await proxy.tables(), [
        { name: "values", type: "CyberDict" },
        { name: "keys", type: "CyberDict" },
        { name: "list", type: "CyberList" },
        { name: "empty list", type: "CyberList" },
        { name: "empty dict", type: "CyberDict" },
        { name: "ünïcødé 表", type: "CyberDict" },
      ]);
      const values = await proxy.getCyberDict("values");
      assert.deepEqual(await values.keys(), VALUES.map(([key]) => key));
      for (const [key, value] of VALUES) {
        const read = await values.get(key);
        assert.deepEqual(read, value, `value ${key}`);
        assert.equal(typeof read, typeof value, `type of ${key}`);
        if (value instanceof Uint8Array) {
          assert.ok(read instanceof Uint8Array, `${key} is a Uint8Array`);
        }
        if (value instanceof Date) {
          assert.ok(read instanceof Date, `${key} is a Date`);
        }
      }
      const keys = await proxy.getCyberDict("keys");
      assert.deepEqual(await keys.entries(), [
        [1, "number one"],
        ["1", "string one"],
        [0, "number zero"],
        ["", "empty string key"],
        [-1.5, "float key"],
        ["\uD800", "lone high surrogate"],
        ["\uDBFF", "another lone high surrogate"],
        ["\uFFFD", "replacement character"],
      ]);
      assert.equal(await keys.get(1), "number one");
      assert.equal(await keys.get("1"), "string one");
      const list = await proxy.getCyberList("list");
      assert.deepEqual(await list.toArray(), [
        ...VALUES.map(([, value]) => value),
        "last",
      ]);
      assert.deepEqual(
        await (await proxy.getCyberList("empty list")).toArray(),
        [],
      );
      assert.equal(await (await proxy.getCyberDict("empty dict")).size(), 0);
      // The loaded tables are live: they can be changed and saved again.
      await list.push("after load");
      assert.equal(await list.length(), VALUES.length + 2);
    } finally {
      await second.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a snapshot written before Map, Set and lone-surrogate strings had extension types still loads", async () => {
  // Written by the server of commit e5a5067 (tests/data/snapshot_v1.cdb): plain MessagePack throughout.
  const fx = await serve(fileURLToPath(new URL("./data/snapshot_v1.cdb", import.meta.url)));
  try {
    await using proxy = await fx.client.getProxy().connect();
    assert.deepEqual(await proxy.tables(), [
      { name: "centre", type: "CyberDict" },
      { name: "jobs", type: "CyberList" },
    ]);
    const centre = await proxy.getCyberDict("centre");
    assert.deepEqual(await centre.entries(), [
      ["content", "Hello CyberDB!"],
      [1, { nested: [1, 2.5, -3, null, true, false, "", [], {}] }],
      ["héllo ✓", 2n ** 70n],
      ["when", new Date(86_400_000)],
      ["bytes", new Uint8Array([1, 2, 3])],
    ]);
    const jobs = await proxy.getCyberList("jobs");
    assert.deepEqual(await jobs.toArray(), [{ id: 3 }, "x", 0, 12345678901234567890n, { deep: { er: ["é"] } }]);
  } finally {
    await fx.close();
  }
});

test("save → load keeps a 25,000-entry dict (several chunks) exactly: every key shape, overwrites and deletes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/data.cdb`;
  // ASCII keys of each string header size, non-ASCII and wide keys, numbers; values of several types.
  const keyOf = (i: number) =>
    [`k${i}`, `${"a".repeat(40)}${i}`, `${"b".repeat(300)}${i}`, `é${i}`, `表\ud800${i}`, i, -i / 4][i % 7];
  const expected = new Map<string | number, unknown>();
  try {
    const first = await serve();
    try {
      await using proxy = await first.client.getProxy().connect();
      const dict = await proxy.createCyberDict("big");
      const entries: [string | number, unknown][] = [];
      for (let i = 0; i < 25_000; i++) {
        entries.push([keyOf(i), i % 3 === 0 ? { i, s: "x".repeat(i % 50) } : i % 3 === 1 ? `v${i}` : i]);
      }
      await dict.update(entries);
      for (let i = 0; i < 25_000; i += 10) await dict.set(keyOf(i), [i, "rewritten"]);
      for (let i = 5; i < 25_000; i += 100) await dict.delete(keyOf(i));
      for (const [key, value] of await dict.entries()) expected.set(key, value);
      await first.server.save(path);
    } finally {
      await first.close();
    }
    const second = await serve(path);
    try {
      await using proxy = await second.client.getProxy().connect();
      const dict = await proxy.getCyberDict("big");
      assert.deepEqual(await dict.entries(), [...expected]);
      assert.deepEqual(await dict.get(keyOf(20)), [20, "rewritten"]);
      assert.equal(await dict.has(keyOf(105)), false);
      assert.equal(await dict.get(keyOf(4)), `v4`);
    } finally {
      await second.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("load replaces every table, including ones the snapshot does not have", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/data.cdb`;
  try {
    const fx = await startServer();
    try {
      await using proxy = await fx.client.getProxy().connect();
      const kept = await proxy.createCyberDict("saved");
      await kept.set("a", 1);
      await fx.server.save(path);
      await kept.set("a", 2);
      await proxy.createCyberList("unsaved");
      await fx.server.load(path);
      assert.deepEqual(await proxy.tables(), [{
        name: "saved",
        type: "CyberDict",
      }]);
      assert.equal(await kept.get("a"), 1);
    } finally {
      await fx.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("load of a missing file rejects with SNAPSHOT_CORRUPT naming the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/does-not-exist.cdb`;
  try {
    const server = new Server();
    await rejectsCorrupt(server.load(path), path);
    await server.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Writes a snapshot of two tables, then serves a server holding other tables. */
async function corruptionCase(
  damage: (bytes: Uint8Array) => Uint8Array,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const good = `${dir}/good.cdb`;
  const bad = `${dir}/bad.cdb`;
  try {
    const source = await serve();
    try {
      await using proxy = await source.client.getProxy().connect();
      const dict = await proxy.createCyberDict("snapshot dict");
      for (let i = 0; i < 200; i++) await dict.set(`key ${i}`, `value ${i}`);
      await proxy.createCyberList("snapshot list", ["x", "y", "z"]);
      await source.server.save(good);
    } finally {
      await source.close();
    }
    const bytes = new Uint8Array(await readFile(good));
    await writeFile(bad, damage(bytes));

    // The server being damaged first loads the good file, then changes it.
    const target = await serve(good);
    try {
      await using proxy = await target.client.getProxy().connect();
      const dict = await proxy.getCyberDict("snapshot dict");
      await dict.set("changed", true);
      await proxy.createCyberList("live", [1, 2, 3]);
      const before = {
        tables: await proxy.tables(),
        dict: await dict.entries(),
        list: await (await proxy.getCyberList("snapshot list")).toArray(),
        live: await (await proxy.getCyberList("live")).toArray(),
      };
      await rejectsCorrupt(target.server.load(bad), bad);
      assert.deepEqual({
        tables: await proxy.tables(),
        dict: await dict.entries(),
        list: await (await proxy.getCyberList("snapshot list")).toArray(),
        live: await (await proxy.getCyberList("live")).toArray(),
      }, before);
      assert.equal(before.dict.length, 201);
    } finally {
      await target.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("load of a truncated snapshot rejects with SNAPSHOT_CORRUPT and leaves the tables as they were", async () => {
  await corruptionCase((bytes) => bytes.slice(0, Math.floor(bytes.length / 2)));
});

test("load of a snapshot missing only its last byte rejects with SNAPSHOT_CORRUPT", async () => {
  await corruptionCase((bytes) => bytes.slice(0, bytes.length - 1));
});

test("load of a snapshot with one byte flipped in the middle rejects with SNAPSHOT_CORRUPT and leaves the tables as they were", async () => {
  await corruptionCase((bytes) => {
    const out = bytes.slice();
    out[Math.floor(out.length / 2)] ^= 0x01;
    return out;
  });
});

test("load of a file that is not a snapshot, or is empty, rejects with SNAPSHOT_CORRUPT", async () => {
  await corruptionCase(() => new TextEncoder().encode("just some text\n"));
  await corruptionCase(() => new Uint8Array(0));
});

test("setBackup writes a loadable snapshot within a bounded wait", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/backup.cdb`;
  try {
    const fx = await startServer();
    try {
      await using proxy = await fx.client.getProxy().connect();
      const dict = await proxy.createCyberDict("backed up");
      await dict.set("answer", 42);
      fx.server.setBackup(path, { interval: 0.2 });
      let exists = false;
      for (let i = 0; i < 150 && !exists; i++) {
        await sleep(20);
        exists = await stat(path).then(() => true, () => false);
      }
      assert.ok(exists, `no backup at ${path} after 3 s`);
      // A later change shows up in a later backup.
      await dict.set("answer", 43);
      let latest: unknown;
      for (let i = 0; i < 150 && latest !== 43; i++) {
        await sleep(20);
        const check = new Server();
        try {
          await check.load(path);
          const loaded = await serveLoaded(check);
          try {
            latest = await loaded.read("backed up", "answer");
          } finally {
            await loaded.close();
          }
        } catch (error) {
          // The file is replaced atomically, so every read must succeed.
          assert.fail(`reading the backup failed: ${error}`);
        }
      }
      assert.equal(latest, 43);
    } finally {
      await fx.close();
    }
    const names = await readdir(dir);
    assert.deepEqual(names, ["backup.cdb"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Starts an already loaded server and reads one dict value from it. */
async function serveLoaded(server: Server) {
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  const client = await connect({ hostname: "127.0.0.1", port }).catch(
    async (error) => {
      await server.close();
      throw error;
    },
  );
  return {
    async read(table: string, key: string) {
      await using proxy = await client.getProxy().connect();
      return await (await proxy.getCyberDict(table)).get(key);
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

test("setBackup stops writing after server.close()", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/backup.cdb`;
  try {
    const server = new Server();
    server.setBackup(path, { interval: 0.05 });
    await server.close();
    await sleep(200);
    assert.equal(await stat(path).then(() => true, () => false), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("save is atomic: it replaces the file and leaves no temporary files behind", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/data.cdb`;
  try {
    const fx = await startServer();
    try {
      await using proxy = await fx.client.getProxy().connect();
      const list = await proxy.createCyberList("grows");
      await writeFile(path, "an old file that gets replaced");
      // Many saves at once run one after another, each replacing the file.
      const saves = [];
      for (let i = 0; i < 10; i++) {
        await list.push("x".repeat(1000));
        saves.push(fx.server.save(path));
      }
      await Promise.all(saves);
      const names = await readdir(dir);
      assert.deepEqual(names, ["data.cdb"]);
      assert.equal(names.some((name) => name.includes(".tmp-")), false);
      // The file is the last save: all ten items.
      const check = await serve(path);
      try {
        await using checkProxy = await check.client.getProxy().connect();
        assert.equal(
          await (await checkProxy.getCyberList("grows")).length(),
          10,
        );
      } finally {
        await check.close();
      }
    } finally {
      await fx.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("save to a directory that does not exist rejects and leaves no file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_snapshot_"));
  const path = `${dir}/missing/data.cdb`;
  try {
    const server = new Server();
    await assert.rejects(server.save(path));
    // A failed save does not block the next one.
    await server.save(`${dir}/ok.cdb`);
    const names = await readdir(dir);
    assert.deepEqual(names, ["ok.cdb"]);
    await server.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
