/**
 * Crafted snapshot and journal files: each one that used to cost the server
 * hundreds of MiB (or decoded a value it could not read back, or rounded an
 * epoch) is refused with `SNAPSHOT_CORRUPT` or `JOURNAL_CORRUPT`, quickly and
 * within bounded memory, and the tables stay as they were.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, JournalCorruptError, Server, SnapshotCorruptError } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";
import { crc32 } from "../src/store/checksum.ts";
import { encode } from "../src/protocol/codec.ts";

/** MessagePack of an array header for `count` items. */
function arrayHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count);
  const out = new Uint8Array(5);
  out[0] = 0xdd;
  new DataView(out.buffer).setUint32(1, count);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A chunk `[name, kind, items]` whose items are `count` copies of the one-byte value `item`. */
function repeatedChunk(name: string, kind: string, count: number, item: number): Uint8Array {
  const items = new Uint8Array(count).fill(item);
  return concat([arrayHeader(3), encode(name), encode(kind), arrayHeader(count), items]);
}

/** A snapshot file (format 1) of these chunks, with a good checksum. */
function snapshotFile(chunks: Uint8Array[], epoch = 0n): Uint8Array {
  const body = concat(chunks.flatMap((chunk) => {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, chunk.length);
    return [length, chunk];
  }));
  const out = new Uint8Array(36 + body.length + 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode("CYBERDB\0"));
  view.setUint32(8, 1);
  view.setBigUint64(12, epoch);
  view.setBigUint64(20, 0n);
  view.setBigUint64(28, BigInt(body.length));
  out.set(body, 36);
  view.setUint32(36 + body.length, crc32(body));
  return out;
}

/** A journal file (format 1, epoch 1) of these records, each with a good CRC. */
function journalFile(records: Uint8Array[], epoch = 1n): Uint8Array {
  const head = new Uint8Array(20);
  head.set(new TextEncoder().encode("CDBJRNL\0"));
  new DataView(head.buffer).setUint32(8, 1);
  new DataView(head.buffer).setBigUint64(12, epoch);
  return concat([
    head,
    ...records.flatMap((payload) => {
      const header = new Uint8Array(8);
      new DataView(header.buffer).setUint32(0, payload.length);
      new DataView(header.buffer).setUint32(4, crc32(payload));
      return [header, payload];
    }),
  ]);
}

async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_crafted_"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Loads `bytes` as a snapshot into a server holding one table, and checks that the load is refused with
 * `SNAPSHOT_CORRUPT` naming the file and matching `reason`, within `ms` and `mib` MiB of resident memory
 * growth, and that the table is still there.
 */
async function refusedSnapshot(bytes: Uint8Array, reason: RegExp, ms = 3000, mib = 150): Promise<void> {
  await inTempDir(async (dir) => {
    const path = join(dir, "crafted.cdb");
    await writeFile(path, bytes);
    const server = new Server();
    const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
    const client = await connect({ hostname: "127.0.0.1", port });
    try {
      {
        await using proxy = await client.getProxy().connect();
        await (await proxy.createCyberDict("kept")).set("k", "v");
      }
      const rss = runtime.memoryUsage(), start = performance.now();
      const error = await server.load(path).then(() => undefined, (e) => e);
      const took = performance.now() - start, grew = (runtime.memoryUsage() - rss) / 2 ** 20;
      assert.ok(error instanceof SnapshotCorruptError, `expected SNAPSHOT_CORRUPT, got ${error}`);
      assert.equal(error.code, "SNAPSHOT_CORRUPT");
      assert.ok(error.message.includes(path), error.message);
      assert.match(error.message, reason);
      assert.ok(took < ms, `the load took ${took.toFixed(0)} ms to fail`);
      assert.ok(grew < mib, `resident memory grew by ${grew.toFixed(0)} MiB`);
      await using proxy = await client.getProxy().connect();
      assert.equal(await (await proxy.getCyberDict("kept")).get("k"), "v");
    } finally {
      await client.close();
      await server.close();
    }
  });
}

test("a 7.6 MiB snapshot chunk of 8 M empty maps is refused at once, not decoded (it took 649 MiB and 7 s)", async () => {
  const file = snapshotFile([repeatedChunk("L", "CyberList", 8_000_000, 0x80)]);
  assert.ok(file.length > 7.6 * 2 ** 20);
  await refusedSnapshot(file, /chunk of 8000000 items/, 2000, 100);
});

test("a snapshot dict chunk of 8 M pairs is refused the same way", async () => {
  await refusedSnapshot(snapshotFile([repeatedChunk("D", "CyberDict", 8_000_000, 0x01)]), /chunk of 8000000 items/);
});

test("a snapshot list item of 3 M nested values is refused: no request could have stored it", async () => {
  const item = concat([arrayHeader(3_000_000), new Uint8Array(3_000_000).fill(0x90)]);
  const chunk = concat([arrayHeader(3), encode("L"), encode("CyberList"), arrayHeader(1), item]);
  await refusedSnapshot(snapshotFile([chunk]), /list item in "L" that cannot be loaded.*over 2000000 values/);
});

test("a snapshot dict value that does not decode is refused, not stored as bytes", async () => {
  // Structurally fine, yet neither decodes: a string extension (type 1) of half a UTF-16 code unit,
  // and a Map extension (type 2) holding [1], no key/value pairs.
  const halfString = Uint8Array.of(0xd4, 0x01, 0x41);
  const badMap = Uint8Array.of(0xc7, 2, 0x02, 0x91, 0x01);
  for (const bad of [halfString, badMap]) {
    const chunk = concat([arrayHeader(3), encode("D"), encode("CyberDict"), arrayHeader(2), encode("k"), bad]);
    await refusedSnapshot(snapshotFile([chunk]), /dict value in "D" that cannot be loaded/);
  }
});

test("a snapshot whose expiries outnumber its pairs is refused before they are decoded", async () => {
  const expiries = concat([arrayHeader(2_000_000), new Uint8Array(2_000_000).fill(0x01)]);
  const chunk = concat([arrayHeader(4), encode("D"), encode("CyberDict"), encode(["k", 1]), expiries]);
  await refusedSnapshot(snapshotFile([chunk]), /malformed expiries/);
});

test("a snapshot with epoch 2^64 - 1 is refused, not rounded to another epoch", async () => {
  await refusedSnapshot(snapshotFile([encode(["D", "CyberDict", []])], 2n ** 64n - 1n), /18446744073709551615/);
});

test("a journal record that decodes to over 2,000,000 values fails the start with JOURNAL_CORRUPT", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "j");
    const push = concat([
      arrayHeader(3 + 3_000_000),
      encode(2),
      encode("l.push"),
      encode("L"),
      new Uint8Array(3_000_000).fill(0x80),
    ]);
    await writeFile(path, journalFile([encode([1, "create", "L", "CyberList"]), push]));
    const server = new Server();
    const rss = runtime.memoryUsage(), start = performance.now();
    const error = await server.start({ hostname: "127.0.0.1", port: 0, journal: { path } }).then(
      async () => await server.close(),
      (e) => e,
    );
    const took = performance.now() - start, grew = (runtime.memoryUsage() - rss) / 2 ** 20;
    await server.close();
    assert.ok(error instanceof JournalCorruptError, `expected JOURNAL_CORRUPT, got ${error}`);
    assert.match(error.message, /record at byte \d+ that cannot be replayed.*over 2000000 values/);
    assert.ok(took < 3000, `the start took ${took.toFixed(0)} ms to fail`);
    assert.ok(grew < 150, `resident memory grew by ${grew.toFixed(0)} MiB`);
  });
});

test("a journal with epoch 2^64 - 1 fails the start with JOURNAL_CORRUPT", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "j");
    await writeFile(path, journalFile([encode([1, "create", "L", "CyberList"])], 2n ** 64n - 1n));
    const server = new Server();
    const error = await server.start({ hostname: "127.0.0.1", port: 0, journal: { path } }).then(
      async () => await server.close(),
      (e) => e,
    );
    await server.close();
    assert.ok(error instanceof JournalCorruptError, `expected JOURNAL_CORRUPT, got ${error}`);
    assert.match(error.message, /18446744073709551615/);
  });
});
