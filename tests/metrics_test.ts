/**
 * `server.serveMetrics()` / `--metrics`: scraped over HTTP after real
 * requests, and checked line by line against the Prometheus text exposition
 * format: HELP and TYPE before each family's samples, metric and label
 * syntax, numeric values, histogram buckets cumulative up to `+Inf` equal to
 * `_count`, and `_sum`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Server } from "../mod.ts";
import { freePort, spawnServer, waitForPort } from "./_child_server.ts";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"/g;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses exposition text, failing on any line that breaks the format; the samples and each family's type. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const [name, ...help] = line.slice(7).split(" ");
      assert.match(name, NAME, line);
      assert.ok(help.join(" ").length > 0, `HELP without text: ${line}`);
      assert.ok(!helped.has(name), `a second HELP for ${name}`);
      helped.add(name);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type, ...rest] = line.slice(7).split(" ");
      assert.match(name, NAME, line);
      assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(type), line);
      assert.equal(rest.length, 0, line);
      assert.ok(!types.has(name), `a second TYPE for ${name}`);
      assert.ok(!samples.some((s) => s.name === name || s.name.startsWith(`${name}_`)), `TYPE after samples: ${line}`);
      types.set(name, type);
      continue;
    }
    assert.ok(!line.startsWith("#"), `unknown comment line: ${line}`);
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) labels[key] = value;
    const value = match[3] === "+Inf" ? Infinity : Number(match[3]);
    assert.ok(!Number.isNaN(value), `value of ${line}`);
    const family = [...types.keys()].find((name) =>
      match[1] === name ||
      (types.get(name) === "histogram" && /^_(bucket|sum|count)$/.test(match[1].slice(name.length)) &&
        match[1].startsWith(name))
    );
    assert.ok(family, `sample before its TYPE: ${line}`);
    samples.push({ name: match[1], labels, value });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

test("serveMetrics exposes counters, a cumulative latency histogram and gauges in valid exposition format", async () => {
  const server = new Server();
  const { port } = await server.start({ port: 0 });
  const metrics = await server.serveMetrics({ hostname: "127.0.0.1", port: 0 });
  try {
    const client = await connect({ port });
    try {
      await using proxy = await client.getProxy().connect();
      const centre = await proxy.createCyberDict("centre", { a: 1 });
      for (let i = 0; i < 20; i++) await centre.set(`k${i}`, i);
      await assert.rejects(proxy.getCyberList("centre"));
      await assert.rejects(proxy.getCyberDict("nope"));
    } finally {
      await client.close();
    }
    const response = await fetch(`http://127.0.0.1:${metrics.port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(await response.text());
    assert.equal(types.get("cyberdb_requests_total"), "counter");
    assert.equal(types.get("cyberdb_request_duration_seconds"), "histogram");
    assert.ok((value(samples, "cyberdb_requests_total", { op: "d.set" }) ?? 0) >= 20);
    assert.ok((value(samples, "cyberdb_errors_total", {}) ?? 0) >= 1, "an error is counted by its code");
    assert.ok(samples.some((s) => s.name === "cyberdb_errors_total" && s.labels.code === "NO_SUCH_TABLE"));
    assert.equal(value(samples, "cyberdb_table_size", { table: "centre", type: "CyberDict" }), 21);
    assert.ok((value(samples, "cyberdb_memory_rss_bytes") ?? 0) > 0);
    assert.equal(value(samples, "cyberdb_connections_total"), 1);
    const count = assertHistogram(samples, types, "cyberdb_request_duration_seconds");
    assert.ok(count >= 22);
    assert.ok(value(samples, "cyberdb_request_duration_seconds_sum")! > 0);
  } finally {
    await server.close();
  }
});

/** Checks one histogram family: its TYPE, bounds increasing to `+Inf`, cumulative buckets, `+Inf` = `_count`. */
function assertHistogram(samples: Sample[], types: Map<string, string>, name: string): number {
  assert.equal(types.get(name), "histogram", name);
  const buckets = samples.filter((s) => s.name === `${name}_bucket`);
  assert.ok(buckets.length >= 2, name);
  assert.equal(buckets.at(-1)!.labels.le, "+Inf");
  let last = -Infinity, lastCount = 0;
  for (const bucket of buckets) {
    const le = bucket.labels.le === "+Inf" ? Infinity : Number(bucket.labels.le);
    assert.ok(le > last, `${name}: bucket bounds increase`);
    assert.ok(bucket.value >= lastCount, `${name}: buckets are cumulative`);
    last = le;
    lastCount = bucket.value;
  }
  const count = value(samples, `${name}_count`)!;
  assert.equal(buckets.at(-1)!.value, count, `${name}: the +Inf bucket is _count`);
  assert.ok(value(samples, `${name}_sum`)! >= 0, `${name}_sum`);
  return count;
}

test("metrics count bytes in and out and time journal writes, fsyncs, snapshot saves and the load", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_metrics_"));
  const seed = new Server();
  await seed.start({ port: 0 });
  await seed.save(`${dir}/seed.cdb`);
  await seed.close();
  const server = new Server();
  await server.load(`${dir}/seed.cdb`);
  const { port } = await server.start({ port: 0, journal: { path: `${dir}/journal`, fsync: "always" } });
  const metrics = await server.serveMetrics({ hostname: "127.0.0.1", port: 0 });
  try {
    const scrape = async () => parseExposition(await (await fetch(`http://127.0.0.1:${metrics.port}/`)).text());
    const before = await scrape();
    assert.equal(value(before.samples, "cyberdb_received_bytes_total"), 0);
    assert.equal(value(before.samples, "cyberdb_sent_bytes_total"), 0);
    assert.ok(value(before.samples, "cyberdb_snapshot_load_duration_seconds")! > 0, "the load at start is timed");
    const client = await connect({ port });
    try {
      await using proxy = await client.getProxy().connect();
      const log = await proxy.createCyberList("log");
      for (let i = 0; i < 5; i++) await log.push("x".repeat(1000));
    } finally {
      await client.close();
    }
    await server.save(`${dir}/db.cdb`);
    const { samples, types } = await scrape();
    assert.equal(types.get("cyberdb_received_bytes_total"), "counter");
    assert.equal(types.get("cyberdb_sent_bytes_total"), "counter");
    assert.ok(value(samples, "cyberdb_received_bytes_total")! > 5000, "the five 1000-byte pushes came in");
    assert.ok(value(samples, "cyberdb_sent_bytes_total")! > 0);
    assert.ok(assertHistogram(samples, types, "cyberdb_journal_write_duration_seconds") >= 6, "create + 5 pushes");
    assert.ok(assertHistogram(samples, types, "cyberdb_journal_fsync_duration_seconds") >= 6, "fsync always");
    const saves = value(before.samples, "cyberdb_snapshot_save_duration_seconds_count")!; // a journal opened after a load compacts
    assert.equal(assertHistogram(samples, types, "cyberdb_snapshot_save_duration_seconds"), saves + 1);
    assert.ok(value(samples, "cyberdb_snapshot_save_duration_seconds_sum")! > 0);
    assert.equal(types.get("cyberdb_snapshot_load_duration_seconds"), "gauge");
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("server.ts --metrics host:port serves the metrics; a bad --metrics exits 2", async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  const child = spawnServer(["--port", String(port), "--metrics", `127.0.0.1:${metricsPort}`]);
  try {
    await waitForPort(port);
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(response.status, 200);
    const { types } = parseExposition(await response.text());
    assert.equal(types.get("cyberdb_connections"), "gauge");
  } finally {
    child.signal("SIGTERM");
    await child.exit().catch(() => {});
    await child.kill();
  }
  const bad = spawnServer(["--metrics", "9981"]);
  try {
    assert.equal((await bad.exit()).code, 2);
    assert.match(bad.stderr, /--metrics must be host:port/);
  } finally {
    await bad.kill();
  }
});
