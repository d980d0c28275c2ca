/**
 * What one client can make the server hold, against the attacks that found
 * it unbounded: replies it never reads (memory measured on a child server),
 * error replies that echo a huge argument, and idle unauthenticated sockets
 * that take every connection slot. Also the start-up warning for a password
 * without encryption beyond loopback.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Client, connect, type CyberDict, type Proxy, Server } from "../mod.ts";
import { encode } from "../src/protocol/codec.ts";
import { runtime } from "../src/runtime/mod.ts";
import { LISTENING, spawnServer } from "./_child_server.ts";
import { startServer } from "./_server.ts";
import { RawConn } from "./_wire.ts";

const HOST = "127.0.0.1";
const MiB = 1024 * 1024;

/** p99 of a list of milliseconds. */
function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
}

/** Reads a small key over and over for `ms`, and the server's RSS with each read: the second client's view. */
async function watchServer(dict: CyberDict, proxy: Proxy, ms: number, until?: () => boolean) {
  const latencies: number[] = [];
  let peakRss = 0;
  const end = performance.now() + ms;
  while (performance.now() < end && !(until?.() ?? false)) {
    const started = performance.now();
    assert.equal(await dict.get("small"), "fine");
    latencies.push(performance.now() - started);
    peakRss = Math.max(peakRss, (await proxy.info()).memory.rss);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { p99: p99(latencies), peakRss, reads: latencies.length };
}

test("40 gets of a 16 MiB value never read: the server's RSS stays within the hard limit + 20%, and the reader is closed after the write timeout", async () => {
  const hard = 64 * MiB;
  const child = spawnServer([
    "--port",
    "0",
    "--write-timeout",
    "2000",
    "--output-buffer-hard",
    String(hard),
  ]);
  let client: Client | undefined;
  let attacker: RawConn | undefined;
  try {
    const port = Number((await child.waitForStderr(LISTENING))[1]);
    client = await connect({ hostname: HOST, port });
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict("D");
    await dict.set("k", new Uint8Array(16 * MiB).fill(7));
    await dict.set("small", "fine");
    const before = (await proxy.info()).memory.rss;
    const quiet = await watchServer(dict, proxy, 2_000); // the same reads with no attack, for comparison

    attacker = await RawConn.connect(port);
    await attacker.handshake({});
    // 40 requests in one write (a few hundred bytes), then never read a reply.
    await attacker.sendFrames(Array.from({ length: 40 }, (_, i) => encode([i + 1, "d.get", "D", "k"])));
    const seen = await watchServer(dict, proxy, 15_000, () => /write timeout/.test(child.stderr));
    await child.waitForStderr(/took too few of its \d+ bytes of replies in 2000 ms \(write timeout\)/, 10_000);
    const growth = seen.peakRss - before;
    const mib = (bytes: number) => Math.round(bytes / MiB);
    console.log(
      `unread replies: RSS ${mib(before)} -> peak ${mib(seen.peakRss)} MiB (+${mib(growth)} MiB); ` +
        `second client's get p99 ${seen.p99.toFixed(1)} ms during it, ${quiet.p99.toFixed(1)} ms before it`,
    );
    assert.ok(growth < hard * 1.2, `RSS grew by ${Math.round(growth / MiB)} MiB, over ${hard / MiB} MiB + 20%`);
    assert.equal(await dict.get("small"), "fine", "the server still serves");
  } finally {
    attacker?.close();
    await client?.close();
    await child.kill();
  }
});

test("an 8 MiB table name of control characters gets a short error, quickly", async () => {
  const fx = await startServer();
  try {
    await using proxy = await fx.client.getProxy().connect();
    const list = await proxy.createCyberList("l", [{ a: 1 }, { a: 2 }]);
    const name = "\x01".repeat(8 * MiB);
    for (
      const [what, request] of [
        ["d.get on a missing table", () => proxy.request("d.get", name, ["k"])],
        ["sort with an 8 MiB by path", () => list.sort({ by: name })],
      ] as const
    ) {
      const started = performance.now();
      const error = await request().then(() => undefined, (e: Error) => e);
      const took = performance.now() - started;
      assert.ok(error, `${what}: expected an error`);
      assert.ok(error.message.length <= 1100, `${what}: the message is ${error.message.length} characters`);
      // Linear in the argument (encoding and decoding 8 MiB, ~0.7 s of CPU here); no 48 MiB reply any more.
      assert.ok(took < 15_000, `${what}: took ${Math.round(took)} ms`);
      console.log(`${what}: ${Math.round(took)} ms, a message of ${error.message.length} characters`);
    }
  } finally {
    await fx.close();
  }
});

test("200 idle unauthenticated sockets do not lock out a real client (maxConnections 100)", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: HOST,
    port: 0,
    password: "pw-for-this-test",
    maxConnections: 100,
    maxUnauthenticated: 50,
  });
  const idle: RawConn[] = [];
  let client: Client | undefined;
  try {
    for (let i = 0; i < 200; i++) idle.push(await RawConn.connect(port));
    // Each got the server's hello (or was dropped for a newer one); none ever answers.
    await Promise.all(idle.map((raw) => raw.readFrame(5_000).catch(() => null)));
    client = await connect({ hostname: HOST, port, password: "pw-for-this-test", connectTimeout: 5_000 });
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict("in");
    await dict.set("k", 1);
    assert.equal(await dict.get("k"), 1);
    const info = await proxy.info();
    assert.ok(info.connections.current <= 50 + 1 + 1, `${info.connections.current} connections held`);
  } finally {
    for (const raw of idle) raw.close();
    await client?.close();
    await server.close();
  }
});

test("a password without --encrypt on a non-loopback address logs a warning at start; on loopback it does not", async () => {
  for (const [hostname, warns] of [["0.0.0.0", true], ["127.0.0.1", false]] as const) {
    const child = spawnServer(["--hostname", hostname, "--port", "0", "--password", "pw-for-this-test"]);
    try {
      await child.waitForStderr(LISTENING);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(/ warn .*without --encrypt/.test(child.stderr), warns, `${hostname}:\n${child.stderr}`);
    } finally {
      await child.kill();
    }
  }
  assert.ok(runtime.name);
});
