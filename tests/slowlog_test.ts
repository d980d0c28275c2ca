/**
 * The slow log (`slowlogThreshold`, `--slowlog-threshold`): what a logged
 * request records, the 128-entry ring, the default threshold, and the
 * shell's `slowlog`, against a real server.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, Server } from "../mod.ts";
import { formatSlowlog } from "../src/client/format.ts";
import { parseLine, runCommand } from "../src/client/shell.ts";
import { SLOWLOG_LENGTH } from "../src/server/slowlog.ts";
import { startServer } from "./_server.ts";
import { freePort, spawnServer, waitForPort } from "./_child_server.ts";

test("with slowlogThreshold 0 every request is in the slow log with its op, table, args, time and client", async () => {
  const fx = await startServer({ slowlogThreshold: 0 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const centre = await proxy.createCyberDict("centre");
    const before = Date.now();
    await centre.set("content", { text: "Hello CyberDB!" });
    const { slowlog } = await proxy.info({ slowlog: true });
    assert.ok(slowlog !== undefined && slowlog.length >= 2, `slowlog ${JSON.stringify(slowlog)}`);
    const [set, create] = slowlog;
    assert.equal(set.op, "d.set");
    assert.equal(set.table, "centre");
    assert.equal(set.args, '"content" {"text":"Hello CyberDB!"}');
    assert.match(set.client, /^127\.0\.0\.1:\d+$/);
    assert.ok(set.at instanceof Date && set.at.getTime() >= before - 1000 && set.at.getTime() <= Date.now() + 1000);
    assert.ok(set.duration >= 0 && set.duration < 10_000, `duration ${set.duration}`);
    assert.equal(create.op, "create");
    assert.equal(create.args, '"CyberDict"');
    assert.ok(set.id > create.id, "newest first");
  } finally {
    await fx.close();
  }
});

test(`the slow log keeps the last ${SLOWLOG_LENGTH} entries, newest first, with consecutive ids`, async () => {
  const fx = await startServer({ slowlogThreshold: 0 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const list = await proxy.createCyberList("log");
    await Promise.all(Array.from({ length: 200 }, (_, i) => list.push(i)));
    const { slowlog } = fx.server.info({ slowlog: true });
    assert.equal(slowlog?.length, SLOWLOG_LENGTH);
    const ids = slowlog!.map((entry) => entry.id);
    assert.deepEqual(ids, Array.from({ length: SLOWLOG_LENGTH }, (_, i) => ids[0] - i));
    assert.equal(slowlog![0].args, "199", "the newest is the last push");
    assert.ok(slowlog!.every((entry) => entry.op === "l.push"), "the oldest entries (create, …) are gone");
  } finally {
    await fx.close();
  }
});

test("slow log arguments are cut to about 100 characters; large ones are shown by their size", async () => {
  const fx = await startServer({ slowlogThreshold: 0 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("d");
    await dict.set("k".repeat(500), 1);
    await dict.set("big", "x".repeat(100_000));
    await dict.set(7, 12n);
    const [small, big, long] = (await proxy.info({ slowlog: true })).slowlog!;
    assert.ok(long.args.length <= 101 && long.args.endsWith("…"), long.args);
    assert.equal(big.args, '"big" <100005 bytes>');
    assert.equal(small.args, '7 "12n"');
  } finally {
    await fx.close();
  }
});

test("the default threshold (10 ms) leaves fast requests out; info without slowlog has no slowlog field", async () => {
  const fx = await startServer();
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("d");
    for (let i = 0; i < 20; i++) await dict.set(i, i);
    const info = await proxy.info();
    assert.equal(info.slowlog, undefined);
    assert.equal(info.clients, undefined);
    const slow = (await proxy.info({ slowlog: true })).slowlog!;
    assert.ok(slow.every((entry) => entry.duration >= 10), JSON.stringify(slow));
  } finally {
    await fx.close();
  }
});

test("a negative slowlogThreshold turns the slow log off; a non-number is refused", async () => {
  const fx = await startServer({ slowlogThreshold: -1 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    await proxy.createCyberDict("d");
    assert.deepEqual((await proxy.info({ slowlog: true })).slowlog, []);
    await assert.rejects(new Server().start({ port: 0, slowlogThreshold: NaN }), RangeError);
  } finally {
    await fx.close();
  }
});

test("the shell's slowlog shows the entries as columns, newest first", async () => {
  const fx = await startServer({ slowlogThreshold: 0 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    await runCommand(proxy, parseLine("create dict centre")!);
    await runCommand(proxy, parseLine("set centre n 1")!);
    const text = await runCommand(proxy, parseLine("slowlog")!);
    const lines = text.split("\n");
    assert.match(lines[0], /^id\s+at\s+ms\s+op\s+table\s+client\s+args$/);
    assert.match(lines[1], /^\d+\s+\d{4}-\d\d-\d\dT\S+Z\s+\d+\.\d{3}\s+d\.set\s+centre\s+127\.0\.0\.1:\d+\s+"n" 1$/);
    assert.equal(formatSlowlog([]), "(no slow requests)");
  } finally {
    await fx.close();
  }
});

test("server.ts --slowlog-threshold 0 logs every request; off logs none", async () => {
  for (const [threshold, logged] of [["0", true], ["off", false]] as const) {
    const port = await freePort();
    const child = spawnServer(["--port", String(port), "--slowlog-threshold", threshold, "--quiet"]);
    try {
      await waitForPort(port);
      const client = await connect({ hostname: "127.0.0.1", port });
      try {
        await using proxy = await client.getProxy().connect();
        await proxy.tables();
        const { slowlog } = await proxy.info({ slowlog: true });
        assert.equal(
          slowlog!.some((entry) => entry.op === "tables"),
          logged,
          `${threshold}: ${JSON.stringify(slowlog)}`,
        );
      } finally {
        await client.close();
      }
    } finally {
      child.signal("SIGTERM");
      await child.exit().catch(() => {});
      await child.kill();
    }
  }
});
