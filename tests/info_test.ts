import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../mod.ts";
import { startServer } from "./_server.ts";

test("proxy.info() reports connections, requests, table sizes and memory of the server", async () => {
  const fx = await startServer();
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("centre", { a: 1, b: 2 });
    await proxy.createCyberList("log", [1, 2, 3]);
    await dict.set("c", 3);
    const info = await proxy.info();
    assert.equal(info.version, VERSION);
    assert.ok(info.uptime >= 0 && info.uptime < 60, `uptime ${info.uptime}`);
    assert.equal(info.connections.current, 1);
    assert.ok(info.connections.total >= 1);
    assert.equal(info.connections.refused, 0);
    assert.ok(info.requests >= 4, `requests ${info.requests}`);
    assert.deepEqual(info.tables, [
      { name: "centre", type: "CyberDict", size: 3 },
      { name: "log", type: "CyberList", size: 3 },
    ]);
    assert.ok(info.memory.rss > 1024 * 1024);
    assert.equal(info.lastSnapshot, null);
    assert.equal(info.journal, null);
  } finally {
    await fx.close();
  }
});

test("Server.info() reports the last snapshot and the journal", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_info_"));
  const fx = await startServer({ journal: { path: `${dir}/journal`, fsync: "no" } });
  try {
    await using proxy = await fx.client.getProxy().connect();
    await proxy.createCyberList("log", ["x"]);
    await fx.server.save(`${dir}/db.cdb`);
    const info = fx.server.info();
    assert.equal(info.lastSnapshot?.path, `${dir}/db.cdb`);
    assert.equal(info.lastSnapshot?.ok, true);
    assert.ok(info.lastSnapshot?.at instanceof Date);
    assert.equal(info.journal?.path, `${dir}/journal`);
    assert.equal(info.journal?.fsync, "no");
    assert.ok((info.journal?.size ?? 0) > 20, "the journal holds the create and its header");
    const remote = await proxy.info();
    assert.deepEqual(remote.journal, fx.server.info().journal);
  } finally {
    await fx.close();
    await rm(dir, { recursive: true, force: true });
  }
});
