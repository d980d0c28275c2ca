/**
 * The journal: acknowledged changes survive SIGKILL at random moments
 * (compaction included) and nothing is applied twice; a torn last record is
 * dropped with a warning; a bad record in the middle stops the server unless
 * `--repair-journal`; replay rebuilds exactly the state the server had; every
 * fsync policy recovers; a snapshot does not stall other clients.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Client,
  connect,
  CyberDict,
  CyberList,
  type FsyncPolicy,
  JournalCorruptError,
  type Proxy,
  Server,
} from "../mod.ts";
import { encode } from "../src/protocol/codec.ts";
import { type ChildServer, LISTENING, spawnScript, spawnServer } from "./_child_server.ts";
import { mulberry32 } from "./_random.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

/** A file's bytes as a plain Uint8Array (Node's readFile gives a Buffer, which deepEqual tells apart). */
async function bytesOf(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_journal_"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolves to `promise`'s value, or fails after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The records of a journal file: where each starts and its whole size (8-byte header + payload). */
function journalRecords(bytes: Uint8Array): { offset: number; size: number }[] {
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "CDBJRNL\0");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = [];
  for (let at = 20; at + 8 <= bytes.length;) {
    const size = 8 + view.getUint32(at);
    if (at + size > bytes.length) break;
    records.push({ offset: at, size });
    at += size;
  }
  return records;
}

function journalEpoch(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(12));
}

/** Every table's name, kind and content, in order, as the server reports them. */
async function dumpTables(proxy: Proxy): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const { name, type } of await proxy.tables()) {
    out.push([
      name,
      type,
      type === "CyberDict" ? await new CyberDict(proxy, name).entries() : await new CyberList(proxy, name).toArray(),
    ]);
  }
  return out;
}

/** SHA-256 of every table's name, kind and content, encoded with the wire codec. */
async function digest(tables: unknown[]): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", encode(tables) as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The port a child server listens on, from its "listening on" log line. */
async function listeningPort(child: ChildServer): Promise<number> {
  const [, port] = await child.waitForStderr(LISTENING, 30_000);
  return Number(port);
}

type JournalStart = { path: string; fsync?: FsyncPolicy; maxSize?: number; repair?: boolean };

/** Starts `server` on a journal, runs `body` with a proxy, then closes the client (not the server). */
async function serveJournal(server: Server, journal: JournalStart, body: (proxy: Proxy) => Promise<void>) {
  const { port } = await server.start({ port: 0, journal });
  const client = await connect({ port });
  try {
    await using proxy = await client.getProxy().connect();
    await body(proxy);
  } finally {
    await client.close();
  }
}

/** The list `name` as a new Server recovers it from the journal (and its snapshot). */
async function recoveredList(journal: JournalStart, name = "l"): Promise<unknown[]> {
  const server = new Server();
  let items: unknown[] = [];
  try {
    await serveJournal(server, journal, async (proxy) => {
      items = await (await proxy.getCyberList(name)).toArray();
    });
  } finally {
    await server.close();
  }
  return items;
}

// ---------------------------------------------------------------------------
// 1. SIGKILL at random moments
// ---------------------------------------------------------------------------

/**
 * One stream of changes issued in order on one proxy, pipelined: op `k` is the
 * k-th change of the stream over all rounds. Since a proxy's requests are
 * applied in order, what survives a crash must be a prefix of the stream that
 * covers every acknowledged op.
 */
interface StreamRun {
  /** Ops issued so far (absolute count). */
  issued: number;
  /** Ops acknowledged so far (absolute count; acks arrive in order). */
  acked: number;
  /** An ack that arrived out of order, if any. */
  disorder?: string;
}

/** Issues `op(k)` for k = from, from + 1, … with up to `window` in flight, until `stop()` or a failure. */
async function runStream(
  op: (k: number) => Promise<unknown>,
  from: number,
  stop: () => boolean,
  window = 32,
): Promise<StreamRun> {
  const run: StreamRun = { issued: from, acked: from };
  const inflight = new Set<Promise<void>>();
  let failed = false;
  while (!stop() && !failed) {
    if (inflight.size >= window) {
      await Promise.race(inflight);
      continue;
    }
    const k = run.issued++;
    const settled: Promise<void> = op(k).then(
      () => {
        if (k !== run.acked) run.disorder ??= `op ${k} acknowledged when ${run.acked} was expected`;
        run.acked = k + 1;
      },
      () => void (failed = true),
    ).finally(() => inflight.delete(settled));
    inflight.add(settled);
  }
  await within(Promise.all(inflight), 15_000, "requests in flight at the kill");
  return run;
}

/**
 * What a recovered server holds of the two streams:
 * A = set(i, i) on dict `d`, then push(i) on list `la`, for i = 0, 1, …;
 * B = push(j) on list `lb`, then increment("n") on `d`, for j = 0, 1, ….
 * Checks that each is an exact prefix and returns the prefix lengths.
 */
async function recovered(proxy: Proxy): Promise<{ a: number; b: number }> {
  assert.deepEqual(await proxy.tables(), [
    { name: "d", type: "CyberDict" },
    { name: "la", type: "CyberList" },
    { name: "lb", type: "CyberList" },
  ]);
  const entries = await new CyberDict(proxy, "d").entries();
  const la = await new CyberList<number>(proxy, "la").toArray();
  const lb = await new CyberList<number>(proxy, "lb").toArray();
  const keys: number[] = [];
  let n = 0;
  for (const [key, value] of entries) {
    if (key === "n") {
      n = value as number;
      continue;
    }
    assert.equal(typeof key, "number", `unexpected key ${String(key)}`);
    assert.equal(value, key, `d[${key}] = ${String(value)}`);
    keys.push(key as number);
  }
  keys.sort((x, y) => x - y);
  keys.forEach((key, i) => assert.equal(key, i, `dict keys are not 0..${keys.length - 1}: ${i} is ${key}`));
  la.forEach((item, i) => assert.equal(item, i, `la[${i}] is ${item}: duplicated or missing pushes`));
  lb.forEach((item, i) => assert.equal(item, i, `lb[${i}] is ${item}: duplicated or missing pushes`));
  // Stream A alternates set/push: a prefix holds as many sets as pushes, or one more.
  assert.ok(keys.length - la.length === 0 || keys.length - la.length === 1, `${keys.length} sets, ${la.length} pushes`);
  assert.ok(lb.length - n === 0 || lb.length - n === 1, `${lb.length} pushes to lb, n = ${n}`);
  return { a: keys.length + la.length, b: lb.length + n };
}

test("SIGKILL at random moments, during compactions too, loses no acknowledged change and applies none twice", async () => {
  const seed = 0x5eed_2024;
  const random = mulberry32(seed);
  const deadline = performance.now() + 50_000;
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`, db = `${dir}/db.cdb`;
    const modes = ["cli", "compacting", "compacting-old", "cli-backup"] as const;
    let streamA: StreamRun = { issued: 0, acked: 0 }, streamB: StreamRun = { issued: 0, acked: 0 };
    let killedMidCompaction = 0, compactions = 0;
    const rounds = 12;
    for (let round = 0; round <= rounds; round++) {
      assert.ok(performance.now() < deadline, `round ${round} started after the time budget`);
      const mode = round === rounds ? "cli" : modes[round % modes.length];
      const child = mode.startsWith("compacting")
        ? spawnScript("tests/_journal_server.ts", ["--journal", journal, "--db", db, "--max-size", "4096"])
        : spawnServer([
          "--port",
          "0",
          "--journal",
          journal,
          "--db",
          db,
          "--fsync",
          "always",
          ...(mode === "cli-backup" ? ["--backup-interval", "1"] : []),
        ]);
      let client: Client | undefined;
      try {
        const port = await listeningPort(child);
        client = await connect({ hostname: "127.0.0.1", port });
        const proxyA = await client.getProxy().connect();
        const proxyB = await client.getProxy().connect();
        // Recovery: every acknowledged op of each stream is there, as an exact prefix.
        let from: { a: number; b: number };
        if (round === 0) {
          await proxyA.createCyberDict("d");
          await proxyA.createCyberList("la");
          await proxyA.createCyberList("lb");
          from = { a: 0, b: 0 };
        } else {
          from = await recovered(proxyA);
          for (const [name, stream, got] of [["A", streamA, from.a], ["B", streamB, from.b]] as const) {
            assert.equal(stream.disorder, undefined);
            assert.ok(got >= stream.acked, `stream ${name}: ${stream.acked} ops acknowledged, ${got} recovered`);
            assert.ok(got <= stream.issued, `stream ${name}: ${stream.issued} ops issued, ${got} recovered`);
          }
        }
        if (round === rounds) {
          child.signal("SIGTERM");
          assert.equal((await child.exit()).code, 0, child.stderr);
          break;
        }
        const d = new CyberDict<number>(proxyA, "d");
        const la = new CyberList<number>(proxyA, "la");
        const lb = new CyberList<number>(proxyB, "lb");
        const dB = new CyberDict<number>(proxyB, "d");
        let stop = false;
        const writers = Promise.all([
          runStream((k) => k % 2 === 0 ? d.set(k / 2, k / 2) : la.push((k - 1) / 2), from.a, () => stop),
          runStream((k) => k % 2 === 0 ? lb.push(k / 2) : dB.increment("n"), from.b, () => stop),
        ]);
        // The kill: after a random delay, or as soon as a compaction is seen in progress.
        const delay = mode === "cli-backup" ? 700 + random() * 900 : 30 + random() * 600;
        const started = performance.now();
        if (mode === "compacting-old") {
          while (performance.now() - started < 3000 && !await exists(`${journal}.old`)) await sleep(1);
        } else {
          await sleep(delay);
        }
        await child.kill();
        stop = true;
        [streamA, streamB] = await writers;
        const midCompaction = await exists(`${journal}.old`);
        if (midCompaction) killedMidCompaction++;
        compactions += child.stderr.match(/compacted:/g)?.length ?? 0;
        console.log(
          `round ${round} (${mode}): killed after ${Math.round(performance.now() - started)} ms` +
            `${midCompaction ? " during a compaction" : ""}; A ${from.a} → ${streamA.acked} acked / ` +
            `${streamA.issued} issued, B ${from.b} → ${streamB.acked} / ${streamB.issued}`,
        );
        assert.ok(
          streamA.acked > from.a,
          `round ${round}: no write was acknowledged before the kill:\n${child.stderr}`,
        );
      } finally {
        await client?.close();
        await child.kill();
      }
    }
    console.log(`seed ${seed}: ${compactions} compactions logged, ${killedMidCompaction} kills mid-compaction`);
    assert.ok(compactions > 0, "no compaction happened in the compacting rounds");
    assert.ok(killedMidCompaction > 0, "no kill landed in the middle of a compaction");
  });
});

// ---------------------------------------------------------------------------
// 2. A torn last record
// ---------------------------------------------------------------------------

/** Starts `server.ts --journal <journal> --fsync always` and connects a client. */
async function cliServer(journal: string, extra: string[] = []) {
  const child = spawnServer(["--port", "0", "--journal", journal, "--fsync", "always", ...extra]);
  try {
    const port = await listeningPort(child);
    const client = await connect({ hostname: "127.0.0.1", port });
    return { child, client };
  } catch (error) {
    await child.kill();
    throw error;
  }
}

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

test("with fsync everysec or no, a SIGKILLed server.ts loses no acknowledged write", async () => {
  for (const fsync of ["everysec", "no"] as const) {
    await inTempDir(async (dir) => {
      const journal = `${dir}/j`;
      let server = await cliServer(journal, ["--fsync", fsync]);
      try {
        await using proxy = await server.client.getProxy().connect();
        const list = await proxy.createCyberList<number>("l");
        const lengths = await Promise.all(Array.from({ length: 300 }, (_, i) => list.push(i)));
        assert.equal(lengths.at(-1), 300);
      } finally {
        await server.client.close();
        await server.child.kill();
      }
      server = await cliServer(journal);
      try {
        await using proxy = await server.client.getProxy().connect();
        const items = await (await proxy.getCyberList("l")).toArray();
        assert.deepEqual(items, Array.from({ length: 300 }, (_, i) => i), fsync);
      } finally {
        await server.client.close();
        await server.child.kill();
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
