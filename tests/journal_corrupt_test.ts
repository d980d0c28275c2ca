/**
 * Damaged journals: a torn last record is dropped with a warning; a bad
 * record in the middle stops the server unless `--repair-journal`; a bad
 * length early on is corruption, not a torn tail; trailing zeros are dropped.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFile, readdir, stat, truncate, writeFile } from "node:fs/promises";
import { connect, JournalCorruptError, Server } from "../mod.ts";
import { LISTENING, spawnServer } from "./_child_server.ts";
import { bytesOf, cliServer, inTempDir, journalRecords, serveJournal } from "./_journal.ts";

test("a torn last record is dropped with a warning naming its size; earlier changes stay and appends continue", async () => {
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`;
    let server = await cliServer(journal);
    try {
      await using proxy = await server.client.getProxy().connect();
      const dict = await proxy.createCyberDict<number>("d");
      for (let i = 0; i < 30; i++) await dict.set(i, i);
      await dict.set("last", -1);
    } finally {
      await server.client.close();
      await server.child.kill();
    }
    const bytes = await bytesOf(journal);
    const records = journalRecords(bytes);
    assert.equal(records.length, 32, "create + 31 sets");
    const last = records[records.length - 1];
    assert.equal(last.offset + last.size, bytes.length);
    await truncate(journal, bytes.length - 3);

    server = await cliServer(journal);
    try {
      const [, dropped] = await server.child.waitForStderr(/torn record.*dropped its (\d+) bytes/);
      assert.equal(Number(dropped), last.size - 3);
      assert.ok(server.child.stderr.includes(journal), "the warning does not name the journal");
      await using proxy = await server.client.getProxy().connect();
      const dict = await proxy.getCyberDict<number>("d");
      assert.equal(await dict.size(), 30);
      for (let i = 0; i < 30; i++) assert.equal(await dict.get(i), i);
      assert.equal(await dict.has("last"), false);
      // The file was cut back to its last whole record, and appends continue from there.
      assert.equal((await stat(journal)).size, last.offset);
      for (let i = 100; i < 110; i++) await dict.set(i, i);
    } finally {
      await server.client.close();
      await server.child.kill();
    }

    server = await cliServer(journal);
    try {
      await using proxy = await server.client.getProxy().connect();
      const dict = await proxy.getCyberDict<number>("d");
      assert.equal(await dict.size(), 40);
      for (let i = 100; i < 110; i++) assert.equal(await dict.get(i), i);
      assert.doesNotMatch(server.child.stderr, /torn/);
      const after = await bytesOf(journal);
      assert.equal(journalRecords(after).at(-1)!.offset + journalRecords(after).at(-1)!.size, after.length);
    } finally {
      await server.client.close();
      await server.child.kill();
    }
  });
});

// ---------------------------------------------------------------------------
// 3. A bad record in the middle
// ---------------------------------------------------------------------------

/**
 * Writes create + set(0..19) through a CLI server, kills it, and flips a byte in record `bad`: in the
 * middle of its payload, or the top byte of its length (so that it claims to run past the end of the file).
 */
async function journalWithBadRecord(journal: string, bad: number, where = "payload"): Promise<Uint8Array> {
  const server = await cliServer(journal);
  try {
    await using proxy = await server.client.getProxy().connect();
    const dict = await proxy.createCyberDict<number>("d");
    for (let i = 0; i < 20; i++) await dict.set(i, i);
  } finally {
    await server.client.close();
    await server.child.kill();
  }
  const bytes = await bytesOf(journal);
  const records = journalRecords(bytes);
  assert.equal(records.length, 21);
  const { offset, size } = records[bad];
  bytes[where === "payload" ? offset + 8 + Math.floor((size - 8) / 2) : offset] ^= 0x40;
  await writeFile(journal, bytes);
  return bytes;
}

test("server.ts refuses a journal with a bad record in the middle (exit 1), and --repair-journal cuts it there", async () => {
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`;
    // Record 0 creates the dict; record 6 sets key 5.
    const corrupted = await journalWithBadRecord(journal, 6);

    const refused = spawnServer(["--port", "0", "--journal", journal]);
    try {
      assert.equal((await refused.exit()).code, 1, refused.stderr);
      assert.ok(refused.stderr.includes(journal), refused.stderr);
      assert.match(refused.stderr, /--repair-journal/);
      assert.doesNotMatch(refused.stderr, LISTENING);
    } finally {
      await refused.kill();
    }
    assert.deepEqual(await bytesOf(journal), corrupted, "the refused journal was changed");

    let server = await cliServer(journal, ["--repair-journal"]);
    try {
      await server.child.waitForStderr(/repaired journal/);
      const asides = (await readdir(dir)).filter((name) => name.startsWith("j.corrupt-"));
      assert.equal(asides.length, 1, `files: ${await readdir(dir)}`);
      assert.deepEqual(await bytesOf(`${dir}/${asides[0]}`), corrupted);
      await using proxy = await server.client.getProxy().connect();
      const dict = await proxy.getCyberDict<number>("d");
      assert.deepEqual(await dict.entries(), [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]);
      await dict.set("after repair", 1);
    } finally {
      await server.client.close();
      await server.child.kill();
    }

    // The repaired journal is whole again: a plain start takes it, with the change made after the repair.
    server = await cliServer(journal);
    try {
      await using proxy = await server.client.getProxy().connect();
      const dict = await proxy.getCyberDict<number>("d");
      assert.equal(await dict.size(), 6);
      assert.equal(await dict.get("after repair"), 1);
    } finally {
      await server.client.close();
      await server.child.kill();
    }
  });
});

test("start() rejects a journal with a bad record in the middle with JOURNAL_CORRUPT naming the file", async () => {
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`;
    await journalWithBadRecord(journal, 3);
    const server = new Server();
    let caught: unknown;
    try {
      await server.start({ port: 0, journal: { path: journal } });
    } catch (error) {
      caught = error;
    } finally {
      await server.close();
    }
    assert.ok(caught instanceof JournalCorruptError, `expected a JournalCorruptError, got ${String(caught)}`);
    assert.equal(caught.code, "JOURNAL_CORRUPT");
    assert.ok(caught.message.includes(journal), caught.message);
    assert.match(caught.message, /--repair-journal/);

    const repaired = new Server();
    try {
      const { port } = await repaired.start({ port: 0, journal: { path: journal, repair: true } });
      const client = await connect({ port });
      try {
        await using proxy = await client.getProxy().connect();
        assert.deepEqual(await (await proxy.getCyberDict("d")).entries(), [[0, 0], [1, 1]]);
      } finally {
        await client.close();
      }
    } finally {
      await repaired.close();
    }
  });
});

test("a bad length in an early record is refused as corruption, not dropped with the rest as a torn tail", async () => {
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`;
    const corrupted = await journalWithBadRecord(journal, 4, "length");
    const server = new Server();
    try {
      await assert.rejects(
        server.start({ port: 0, journal: { path: journal } }),
        (error: unknown) => error instanceof JournalCorruptError && error.message.includes(journal),
      );
    } finally {
      await server.close();
    }
    assert.deepEqual(await bytesOf(journal), corrupted, "the journal was cut");
  });
});

test("a journal ending in zeros (a crash that extended the file but lost its data) starts with the zeros dropped", async () => {
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`;
    const first = new Server();
    try {
      await serveJournal(first, { path: journal }, async (proxy) => {
        const list = await proxy.createCyberList<number>("l");
        for (let i = 0; i < 10; i++) await list.push(i);
      });
    } finally {
      await first.close();
    }
    const whole = await bytesOf(journal);
    await appendFile(journal, new Uint8Array(4096));
    const lines: string[] = [];
    const server = new Server({ log: true });
    const log = console.error;
    console.error = (line: string) => void lines.push(line);
    try {
      await serveJournal(server, { path: journal }, async (proxy) => {
        console.error = log;
        assert.deepEqual(await (await proxy.getCyberList("l")).toArray(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      });
    } finally {
      console.error = log;
      await server.close();
    }
    assert.ok(lines.some((line) => /torn record.*dropped its 4096 bytes/.test(line)), lines.join("\n"));
    assert.deepEqual(await bytesOf(journal), whole);
  });
});
