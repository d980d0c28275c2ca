/**
 * The journal under SIGKILL: acknowledged changes survive a kill at random
 * moments (compaction included) and nothing is applied twice; with fsync
 * everysec or no, a killed `server.ts` loses no acknowledged write.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Client, connect, CyberDict, CyberList, type Proxy } from "../mod.ts";
import { spawnScript, spawnServer } from "./_child_server.ts";
import { mulberry32 } from "./_random.ts";
import { cliServer, exists, inTempDir, listeningPort, sleep, within } from "./_journal.ts";

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
 * What a recovered server holds of the three streams:
 * A = set(i, i) on dict `d`, then push(i) on list `la`, for i = 0, 1, …;
 * B = push(j) on list `lb`, then increment("n") on `d`, for j = 0, 1, …;
 * C = atomic batches, batch k moving 1 from `bank.a` to `bank.b` and pushing k on list `lc`.
 * Checks that each is an exact prefix (a batch all there or not at all) and returns the prefix lengths.
 */
async function recovered(proxy: Proxy): Promise<{ a: number; b: number; c: number }> {
  assert.deepEqual(await proxy.tables(), [
    { name: "d", type: "CyberDict" },
    { name: "la", type: "CyberList" },
    { name: "lb", type: "CyberList" },
    { name: "bank", type: "CyberDict" },
    { name: "lc", type: "CyberList" },
  ]);
  const bank = await new CyberDict<number>(proxy, "bank").toObject();
  const lc = await new CyberList<number>(proxy, "lc").toArray();
  lc.forEach((item, i) => assert.equal(item, i, `lc[${i}] is ${item}: a batch duplicated or missing`));
  assert.deepEqual(bank, lc.length === 0 ? {} : { a: -lc.length, b: lc.length }, `bank ${JSON.stringify(bank)}`);
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
  return { a: keys.length + la.length, b: lb.length + n, c: lc.length };
}

test("SIGKILL at random moments, during compactions too, loses no acknowledged change and applies none twice, an atomic batch all or nothing", async () => {
  const seed = 0x5eed_2024;
  const random = mulberry32(seed);
  const deadline = performance.now() + 50_000;
  await inTempDir(async (dir) => {
    const journal = `${dir}/j`, db = `${dir}/db.cdb`;
    const modes = ["cli", "compacting", "compacting-old", "cli-backup"] as const;
    let streamA: StreamRun = { issued: 0, acked: 0 }, streamB: StreamRun = { issued: 0, acked: 0 };
    let streamC: StreamRun = { issued: 0, acked: 0 };
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
        const proxyC = await client.getProxy().connect();
        let from: { a: number; b: number; c: number };
        if (round === 0) {
          await proxyA.createCyberDict("d");
          await proxyA.createCyberList("la");
          await proxyA.createCyberList("lb");
          await proxyA.createCyberDict("bank");
          await proxyA.createCyberList("lc");
          from = { a: 0, b: 0, c: 0 };
        } else {
          from = await recovered(proxyA);
          for (
            const [name, stream, got] of [["A", streamA, from.a], ["B", streamB, from.b], [
              "C",
              streamC,
              from.c,
            ]] as const
          ) {
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
        const bank = new CyberDict<number>(proxyC, "bank"), lc = new CyberList<number>(proxyC, "lc");
        let stop = false, acked = () => {};
        // On a loaded machine the first reply can take longer than the shortest kill delay: count from it.
        const firstAck = new Promise<void>((resolve) => acked = resolve);
        const writers = Promise.all([
          runStream(
            (k) => (k % 2 === 0 ? d.set(k / 2, k / 2) : la.push((k - 1) / 2)).then(acked),
            from.a,
            () => stop,
          ),
          runStream((k) => k % 2 === 0 ? lb.push(k / 2) : dB.increment("n"), from.b, () => stop),
          runStream(
            (k) => proxyC.atomic().increment(bank, "a", -1).increment(bank, "b", 1).push(lc, k).commit(),
            from.c,
            () => stop,
          ),
        ]);
        // The kill: after a random delay, or as soon as a compaction is seen in progress.
        const delay = mode === "cli-backup" ? 700 + random() * 900 : 30 + random() * 600;
        await within(firstAck, 15_000, "the first acknowledged write");
        const started = performance.now();
        if (mode === "compacting-old") {
          while (performance.now() - started < 3000 && !await exists(`${journal}.old`)) await sleep(1);
        } else {
          await sleep(delay);
        }
        await child.kill();
        stop = true;
        [streamA, streamB, streamC] = await writers;
        const midCompaction = await exists(`${journal}.old`);
        if (midCompaction) killedMidCompaction++;
        compactions += child.stderr.match(/compacted:/g)?.length ?? 0;
        console.log(
          `round ${round} (${mode}): killed after ${Math.round(performance.now() - started)} ms` +
            `${midCompaction ? " during a compaction" : ""}; A ${from.a} → ${streamA.acked} acked / ` +
            `${streamA.issued} issued, B ${from.b} → ${streamB.acked} / ${streamB.issued}, ` +
            `C (atomic batches) ${from.c} → ${streamC.acked} / ${streamC.issued}`,
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
