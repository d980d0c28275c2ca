/**
 * The client list (`info({ clients: true })`, the shell's `clients`), as
 * Redis's `CLIENT LIST`: address, age, idle time, requests and bytes queued
 * of each connection, against a real server and real connections.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../mod.ts";
import { formatClients } from "../src/client/format.ts";
import { parseLine, runCommand } from "../src/client/shell.ts";
import { runtime } from "../src/runtime/mod.ts";
import { startServer } from "./_server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("info({ clients: true }) lists each connection with its address, age, idle time, requests and bytes queued", async () => {
  const fx = await startServer({ password: "pw" });
  const second = await connect(fx.options);
  const raw = await runtime.connect({ hostname: "127.0.0.1", port: fx.port }); // never authenticates
  try {
    await using busy = await fx.client.getProxy().connect();
    const dict = await busy.createCyberDict("d");
    for (let i = 0; i < 5; i++) await dict.set(i, i);
    await using quiet = await second.getProxy().connect();
    await quiet.tables();
    await sleep(120);
    const clients = (await busy.info({ clients: true })).clients!;
    assert.equal(clients.length, 3, JSON.stringify(clients));
    const [first, other, unauthenticated] = [...clients].sort((a, b) => a.id - b.id);
    for (const row of clients) {
      assert.match(row.address, /^127\.0\.0\.1:\d+$/);
      assert.ok(row.age >= 0.1 && row.age < 60, `age ${row.age}`);
      assert.ok(row.idle >= 0 && row.idle <= row.age, `idle ${row.idle} of age ${row.age}`);
      assert.equal(row.queued, 0);
    }
    assert.equal(first.requests, 7, "create, 5 sets and this info");
    assert.ok(first.idle < 0.1, `the asking connection is not idle: ${first.idle}`);
    assert.equal(other.requests, 1);
    assert.ok(other.idle >= 0.1, `the quiet one idled 120 ms: ${other.idle}`);
    assert.equal(first.authenticated && other.authenticated, true);
    assert.deepEqual([unauthenticated.authenticated, unauthenticated.requests], [false, 0]);
    assert.notEqual(first.address, other.address);
    assert.equal(new Set(clients.map((row) => row.id)).size, 3, "ids are distinct");
  } finally {
    raw.close();
    await second.close();
    await fx.close();
  }
});

test("a closed connection leaves the client list", async () => {
  const fx = await startServer();
  try {
    const other = await connect(fx.options);
    {
      await using proxy = await other.getProxy().connect();
      await proxy.tables();
    }
    assert.equal(fx.server.info({ clients: true }).clients!.length, 2);
    await other.close();
    const until = Date.now() + 5000;
    while (fx.server.info({ clients: true }).clients!.length > 1 && Date.now() < until) await sleep(10);
    assert.equal(fx.server.info({ clients: true }).clients!.length, 1);
  } finally {
    await fx.close();
  }
});

test("the shell's clients shows one line per connection under a header", async () => {
  const fx = await startServer();
  const other = await connect(fx.options);
  try {
    await using proxy = await fx.client.getProxy().connect();
    await using second = await other.getProxy().connect();
    await second.tables();
    const lines = (await runCommand(proxy, parseLine("clients")!)).split("\n");
    assert.match(lines[0], /^id\s+address\s+age\s+idle\s+requests\s+queued\s+state$/);
    assert.equal(lines.length, 3);
    for (const line of lines.slice(1)) {
      assert.match(line, /^\d+\s+127\.0\.0\.1:\d+\s+\d+\.\d s\s+\d+\.\d s\s+\d+\s+\d+ B\s+ready$/);
    }
    assert.equal(formatClients([]), "(no connections)");
  } finally {
    await other.close();
    await fx.close();
  }
});
