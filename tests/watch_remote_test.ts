/**
 * Change feeds over a cyberdb server, beyond the shared suite: the server's
 * bound on a connection that never reads, a dropped connection, encryption,
 * and watches multiplexed with requests on one connection.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionClosedError } from "../mod.ts";
import { decode, WRAPPED_DEPTH } from "../src/protocol/codec.ts";
import { WATCH_END, WATCH_EVENT } from "../src/protocol/messages.ts";
import { Relay } from "./_relay.ts";
import { rejectsWith, startServer } from "./_server.ts";
import { RawConn } from "./_wire.ts";

test("a connection that never reads: its watch ends with SLOW_CONSUMER at the 8 MiB bound while 100,000 changes are made; other clients are not held up", async () => {
  const fx = await startServer();
  const raw = await RawConn.connect(fx.port);
  try {
    await using writer = await fx.client.getProxy().connect();
    const dict = await writer.createCyberDict<string>("busy");
    const reader = await connect(fx.options);
    await using readerProxy = await reader.getProxy().connect();
    const reading = await (await readerProxy.getCyberDict<string>("busy")).watch({ buffer: 1024 ** 3 });
    const value = "v".repeat(500);
    const sets = async (count: number) => {
      const started = performance.now();
      for (let i = 0; i < count; i += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, j) => dict.set(`key${(i + j) % 5000}`, value)));
      }
      return performance.now() - started;
    };
    let received = 0;
    const drain = (async () => {
      for await (const _ of reading) if (++received === 150_000) break;
    })();
    const baseline = await sets(50_000); // 50,000 changes with one watcher, reading
    await raw.handshake({});
    await raw.send([1, "watch", "busy", { kind: "CyberDict" }]);
    assert.deepEqual(await raw.read(), [1, 0]);
    // From here on the raw connection reads nothing while 100,000 changes of ~530 bytes (53 MB) are made.
    const stalled = await sets(100_000);
    await drain;
    assert.equal(received, 150_000, "the reading watcher got every change");
    assert.ok(
      stalled / 2 < 2 * baseline + 5_000,
      `100,000 writes with a stalled watcher took ${stalled | 0} ms, 50,000 before it ${baseline | 0} ms`,
    );
    let bytes = 0, events = 0, end: unknown[] | undefined;
    while (end === undefined) {
      const body = await raw.readFrame(10_000);
      assert.ok(body !== null, "the server kept the connection open");
      bytes += body.length;
      const message = decode(body, WRAPPED_DEPTH) as unknown[];
      if (message[1] === WATCH_EVENT) events += message.length - 2;
      else if (message[1] === WATCH_END) end = message;
    }
    // The stalled watch held at most ~8 MiB at the server (plus what the sockets buffer), not 53 MB.
    assert.equal(end[0], 1);
    assert.equal(end[2], "SLOW_CONSUMER");
    assert.ok(bytes < 40 * 1024 * 1024, `${bytes} bytes of events reached the stalled connection`);
    assert.ok(events < 80_000, `${events} of 100,000 events were queued for it`);
    // Its watch is gone, the connection still answers requests, and no further event comes.
    await dict.set("after", "the end");
    await raw.send([2, "tables", ""]);
    assert.deepEqual(await raw.read(), [2, 0, [{ name: "busy", type: "CyberDict" }]]);
    await reader.close();
  } finally {
    raw.close();
    await fx.close();
  }
});

test("unwatch: the server sends no more events for that watch", async () => {
  const fx = await startServer();
  const raw = await RawConn.connect(fx.port);
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("quiet");
    await raw.handshake({});
    await raw.send([1, "watch", "quiet", { kind: "CyberDict", keys: ["a"] }]);
    assert.deepEqual(await raw.read(), [1, 0]);
    await dict.set("a", 1);
    assert.deepEqual(await raw.read(), [1, WATCH_EVENT, { op: "set", key: "a", value: 1 }]);
    await raw.send([2, "unwatch", "", 1]);
    assert.deepEqual(await raw.read(), [2, 0, true]);
    await dict.set("a", 2);
    await raw.send([3, "unwatch", "", 1]);
    assert.deepEqual(await raw.read(), [3, 0, false], "the reply comes next, not an event");
    await raw.send([4, "watch", "quiet", { kind: "CyberList" }]);
    assert.equal(((await raw.read()) as unknown[])[2], "WRONG_TYPE");
    await raw.send([5, "watch", "quiet", { kind: "CyberDict", keys: [{}] }]);
    assert.equal(((await raw.read()) as unknown[])[2], "BAD_REQUEST");
  } finally {
    raw.close();
    await fx.close();
  }
});

test("a dropped connection ends the watch with CONNECTION_CLOSED, after the changes that came before", async () => {
  const fx = await startServer();
  await using relay = await Relay.start({ port: fx.port });
  const client = await connect({ ...fx.options, port: relay.port });
  try {
    await using proxy = await client.getProxy().connect();
    const list = await proxy.createCyberList<number>("jobs");
    const changes = await list.watch();
    await list.push(1);
    await list.push(2);
    const [link] = await relay.waitForLinks(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    link.close();
    assert.deepEqual((await changes.next()).value, { op: "push", values: [1] });
    assert.deepEqual((await changes.next()).value, { op: "push", values: [2] });
    const error = await rejectsWith(changes.next(), ConnectionClosedError, "CONNECTION_CLOSED");
    assert.match(error.message, /read the table again, then watch again/);
  } finally {
    await client.close();
    await fx.close();
  }
});

for (const encrypt of [false, true]) {
  test(`events travel ${encrypt ? "inside the encryption: no plaintext on the wire" : "in plaintext without encrypt"}`, async () => {
    const password = "correct horse battery staple";
    const fx = await startServer({ password, encrypt });
    await using relay = await Relay.start({ port: fx.port });
    const client = await connect({ ...fx.options, port: relay.port });
    try {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict<string>("secrets");
      const changes = await dict.watch();
      const marker = "marker-7c1e-watch-event";
      await fx.client.getProxy().connect().then(async (other) => {
        await (await other.getCyberDict<string>("secrets")).set("k", marker);
        await other.close();
      });
      assert.deepEqual((await changes.next()).value, { op: "set", key: "k", value: marker });
      const seen = new TextDecoder("latin1").decode(
        new Uint8Array(relay.links.flatMap((link) => link.seen.toClient.flatMap((b) => [...b]))),
      );
      assert.equal(seen.includes(marker), !encrypt);
      await changes.return();
    } finally {
      await client.close();
      await fx.close();
    }
  });
}

test("with sharedConnections: 1, a watch and other proxies' requests share the connection", async () => {
  const fx = await startServer({}, { sharedConnections: 1 });
  try {
    const proxies = await Promise.all(Array.from({ length: 4 }, () => fx.client.getProxy().connect()));
    const dict = await proxies[0].createCyberDict<number>("shared");
    const changes = await dict.watch();
    const handles = await Promise.all(proxies.map((p) => p.getCyberDict<number>("shared")));
    const results = await Promise.all(
      handles.flatMap((h, p) => Array.from({ length: 50 }, () => h.increment(`p${p}`))),
    );
    assert.equal(fx.client.connections, 1);
    assert.deepEqual(results.slice(0, 50), Array.from({ length: 50 }, (_, i) => i + 1));
    let count = 0;
    for await (const change of changes) {
      assert.equal(change.op, "set");
      if (++count === 200) break;
    }
    for (const p of proxies) await p.close();
  } finally {
    await fx.close();
  }
});
