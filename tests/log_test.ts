/**
 * The server's log: `makeLogger` levels and formats, then `server.ts
 * --log-format json|text --log-level` as a child process, its stderr parsed
 * line by line: every line has a level, the load at start names its tables,
 * entries and time, `info` reports the loaded snapshot, and SIGHUP is logged, not fatal.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Server } from "../mod.ts";
import { formatInfo } from "../src/client/format.ts";
import { LOG_LEVELS, makeLogger } from "../src/log.ts";
import { freePort, spawnServer, waitForPort } from "./_child_server.ts";

const TEXT_LINE = /^\[cyberdb (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] (debug|info|warn|error) (\S.*)$/;

test("makeLogger writes events at or above its level, as text or one JSON object per line", () => {
  const lines: string[] = [];
  const log = makeLogger({ level: "warn", write: (line) => lines.push(line) });
  log("info", "hidden");
  log("warn", "slow", { ms: 12, peer: "127.0.0.1:5" });
  log("error", "two\nlines");
  assert.equal(lines.length, 2);
  assert.match(lines[0], TEXT_LINE);
  assert.ok(lines[0].endsWith(' warn slow ms=12 peer="127.0.0.1:5"'), lines[0]);
  assert.ok(lines[1].endsWith(" error two\\nlines"), "a message stays on one line");
  const json: string[] = [];
  makeLogger({ format: "json", level: "debug", write: (line) => json.push(line) })("debug", "d", { n: 1 });
  const event = JSON.parse(json[0]);
  assert.deepEqual(Object.keys(event), ["time", "level", "message", "n"]);
  assert.equal(event.level, "debug");
  assert.ok(!Number.isNaN(Date.parse(event.time)));
});

async function snapshotWithTables(path: string): Promise<void> {
  const server = new Server();
  const { port } = await server.start({ port: 0 });
  const client = await connect({ port });
  try {
    await using proxy = await client.getProxy().connect();
    await proxy.createCyberDict("centre", { a: 1, b: 2, c: 3 });
    await proxy.createCyberList("log", [1, 2]);
  } finally {
    await client.close();
  }
  await server.save(path);
  await server.close();
}

test("server.ts --log-format json writes one JSON object per line; the load names tables, entries and time; info says loaded", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_log_"));
  const db = join(dir, "data.cdb");
  try {
    await snapshotWithTables(db);
    const port = await freePort();
    const child = spawnServer(["--port", String(port), "--db", db, "--log-format", "json", "--log-level", "debug"]);
    try {
      await child.waitForStderr(/listening on/);
      await waitForPort(port);
      const client = await connect({ port });
      try {
        await using proxy = await client.getProxy().connect();
        const info = await proxy.info();
        assert.equal(info.lastSnapshot?.loaded, true);
        assert.equal(info.lastSnapshot?.path, db);
        assert.match(formatInfo(info), /^snapshot +loaded .*data\.cdb at /m);
        assert.doesNotMatch(formatInfo(info), /none yet/);
      } finally {
        await client.close();
      }
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0, child.stderr);
      const events = child.stderr.trim().split("\n").map((line) => JSON.parse(line));
      assert.ok(events.length >= 3, child.stderr);
      for (const event of events) {
        assert.equal(typeof event.time, "string");
        assert.ok(!Number.isNaN(Date.parse(event.time)), event.time);
        assert.ok((LOG_LEVELS as readonly string[]).includes(event.level), event.level);
        assert.equal(typeof event.message, "string");
      }
      const loaded = events.find((event) => event.message.startsWith("loaded "));
      assert.ok(loaded, child.stderr);
      assert.match(loaded.message, /^loaded 2 tables and 5 entries from .* in [\d.]+ ms$/);
      assert.equal(loaded.tables, 2);
      assert.equal(loaded.entries, 5);
      assert.equal(typeof loaded.ms, "number");
      assert.equal(loaded.level, "info");
    } finally {
      await child.kill();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("server.ts text log lines each carry a level; --log-level warn drops info lines; a bad level exits 2", async () => {
  const port = await freePort();
  const text = spawnServer(["--port", String(port)]);
  try {
    await text.waitForStderr(/listening on/);
    text.signal("SIGTERM");
    assert.equal((await text.exit()).code, 0, text.stderr);
    const lines = text.stderr.trim().split("\n");
    for (const line of lines) assert.match(line, TEXT_LINE);
    assert.ok(lines.some((line) => / info listening on /.test(line)), text.stderr);
  } finally {
    await text.kill();
  }
  const quietPort = await freePort();
  const warn = spawnServer(["--port", String(quietPort), "--log-level", "warn"]);
  try {
    await waitForPort(quietPort);
    // Nothing to wait for on stderr (no info line): the exit code is not checked, a SIGTERM this early may
    // come before the shutdown handler is installed.
    warn.signal("SIGTERM");
    await warn.exit();
    assert.doesNotMatch(warn.stderr, / info /);
  } finally {
    await warn.kill();
  }
  const bad = spawnServer(["--log-level", "loud"]);
  try {
    assert.equal((await bad.exit()).code, 2);
    assert.match(bad.stderr, /--log-level must be debug, info, warn, error, got "loud"/);
  } finally {
    await bad.kill();
  }
});

test("server.ts logs SIGHUP and keeps serving; SIGTERM still shuts it down", async () => {
  const port = await freePort();
  const child = spawnServer(["--port", String(port)]);
  try {
    await waitForPort(port);
    child.signal("SIGHUP");
    await child.waitForStderr(/ info SIGHUP received: nothing to reopen/);
    const client = await connect({ port });
    try {
      await using proxy = await client.getProxy().connect();
      assert.deepEqual(await proxy.tables(), []);
    } finally {
      await client.close();
    }
    child.signal("SIGTERM");
    assert.equal((await child.exit()).code, 0, child.stderr);
  } finally {
    await child.kill();
  }
});
