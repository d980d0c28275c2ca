/**
 * The client's connections: connecting where nothing listens or nothing
 * answers, requests pending when the server closes or the connection drops,
 * request timeouts, and the pool's idle timeout and broken connections.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Client, connect, ConnectionClosedError, Server, TimeoutError } from "../mod.ts";
import { type Conn, runtime } from "../src/runtime/mod.ts";
import { rejectsWith, startServer } from "./_server.ts";
import { sleep, within } from "./_timing.ts";

/**
 * A TCP relay on a loopback port. `holdReplies()` makes it swallow what the
 * server sends from then on; `cut()` drops every relayed connection.
 */
async function startRelay(targetPort: number) {
  const listener = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Conn>();
  const pumps: Promise<void>[] = [];
  let holding = false;
  const closeAll = (list: Iterable<Conn>) => {
    for (const conn of list) {
      conn.close();
      conns.delete(conn);
    }
  };
  const pump = async (from: Conn, to: Conn, replies: boolean) => {
    try {
      for (let chunk = await from.read(); chunk !== null; chunk = await from.read()) {
        if (replies && holding) continue;
        await to.write(chunk);
      }
    } catch {
      // one side went away
    } finally {
      closeAll([from, to]);
    }
  };
  const accepting = (async () => {
    for (let client = await listener.accept(); client !== null; client = await listener.accept()) {
      const server = await runtime.connect({ hostname: "127.0.0.1", port: targetPort });
      conns.add(client);
      conns.add(server);
      pumps.push(pump(client, server, false), pump(server, client, true));
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    holdReplies() {
      holding = true;
    },
    cut() {
      closeAll([...conns]);
    },
    async close() {
      listener.close();
      closeAll([...conns]);
      await accepting;
      await Promise.all(pumps);
    },
  };
}

test("connect() to a port where nothing listens rejects with CONNECTION_CLOSED", async () => {
  const probe = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr;
  probe.close();
  await rejectsWith(
    within(10_000, "connect to a closed port", connect({ hostname: "127.0.0.1", port })),
    ConnectionClosedError,
    "CONNECTION_CLOSED",
  );
});

test("connect() to a peer that never speaks rejects with TIMEOUT after connectTimeout", async () => {
  const silent = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = silent.addr;
  const accepted: Conn[] = [];
  const accepting = (async () => {
    for (let conn = await silent.accept(); conn !== null; conn = await silent.accept()) accepted.push(conn);
  })().catch(() => {});
  try {
    const started = performance.now();
    await rejectsWith(
      within(5000, "connect to a silent peer", connect({ hostname: "127.0.0.1", port, connectTimeout: 200 })),
      TimeoutError,
      "TIMEOUT",
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 150, `timed out after ${waited} ms, before 200 ms`);
    // The client hung up: the silent peer reads the end of the stream.
    assert.equal(accepted.length, 1);
    const chunk = await within(5000, "client hang-up", accepted[0].read());
    assert.equal(chunk, null);
  } finally {
    silent.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

// ------------------------------------------------------ dropped connections

test("server.close() rejects every pending request with CONNECTION_CLOSED", async () => {
  const fx = await startServer();
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("pending");
    const requests = Array.from(
      { length: 50 },
      (_, i) => dict.set(`k${i}`, i).then(() => "resolved", (e) => e),
    );
    const closing = fx.server.close();
    const outcomes = await within(5000, "pending requests", Promise.all(requests));
    await within(5000, "server.close()", closing);
    for (const outcome of outcomes) {
      assert.ok(
        outcome instanceof ConnectionClosedError,
        `expected CONNECTION_CLOSED, got ${String(outcome)}`,
      );
      assert.equal(outcome.code, "CONNECTION_CLOSED");
    }
    // Later requests on the dead connection reject at once.
    await rejectsWith(
      within(5000, "request after close", dict.get("k0")),
      ConnectionClosedError,
      "CONNECTION_CLOSED",
    );
  } finally {
    await fx.close();
  }
});

test("a connection dropped while requests wait for replies rejects them all with CONNECTION_CLOSED", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  const relay = await startRelay(port);
  let client: Client | undefined;
  try {
    client = await connect({ hostname: "127.0.0.1", port: relay.port });
    await using proxy = await client.getProxy().connect();
    const list = await proxy.createCyberList("dropped");
    relay.holdReplies();
    const requests = Array.from(
      { length: 20 },
      (_, i) => list.push(i).then(() => "resolved", (e) => e),
    );
    await sleep(50);
    relay.cut();
    const outcomes = await within(5000, "pending requests", Promise.all(requests));
    for (const outcome of outcomes) {
      assert.ok(
        outcome instanceof ConnectionClosedError,
        `expected CONNECTION_CLOSED, got ${String(outcome)}`,
      );
    }
  } finally {
    await client?.close();
    await relay.close();
    await server.close();
  }
});

test("requestTimeout: a request with no reply rejects with TIMEOUT", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  const relay = await startRelay(port);
  let client: Client | undefined;
  try {
    client = await connect({
      hostname: "127.0.0.1",
      port: relay.port,
      requestTimeout: 200,
    });
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict("slow");
    relay.holdReplies();
    const started = performance.now();
    const first = dict.get("a");
    const second = dict.get("b");
    await rejectsWith(within(5000, "timed-out request", first), TimeoutError, "TIMEOUT");
    const waited = performance.now() - started;
    assert.ok(waited >= 150, `timed out after ${waited} ms, before 200 ms`);
    await rejectsWith(within(5000, "second request", second), TimeoutError, "TIMEOUT");
  } finally {
    await client?.close();
    await relay.close();
    await server.close();
  }
});

test("requestTimeout does not fire for requests that are answered in time", async () => {
  const fx = await startServer({}, { requestTimeout: 200 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("fast");
    for (let i = 0; i < 5; i++) {
      await dict.set("n", i);
      await sleep(100);
    }
    await sleep(250);
    assert.equal(await dict.get("n"), 4);
  } finally {
    await fx.close();
  }
});

// -------------------------------------------------------------------- pool

test("idleTimeout: idle pooled connections are closed, and a new proxy opens a fresh one", async () => {
  const fx = await startServer({}, { idleTimeout: 100 });
  try {
    {
      await using proxy = await fx.client.getProxy().connect();
      await proxy.createCyberDict("idle");
    }
    assert.equal(fx.client.connections, 1);
    const released = performance.now();
    let polls = 0, openFor = 0;
    while (fx.client.connections > 0 && polls < 100) {
      openFor = performance.now() - released; // still open at least this long (the clock, not the polls: a loaded machine sleeps longer)
      await sleep(20);
      polls++;
    }
    assert.equal(fx.client.connections, 0, "idle connection was not closed");
    assert.ok(openFor >= 60 || polls * 20 >= 60, `closed after only ~${Math.round(openFor)} ms`);

    await using proxy = await fx.client.getProxy().connect();
    assert.equal(fx.client.connections, 1);
    assert.deepEqual(await proxy.tables(), [{ name: "idle", type: "CyberDict" }]);
  } finally {
    await fx.close();
  }
});

test("a leased connection is not closed by the idle timeout", async () => {
  const fx = await startServer({}, { idleTimeout: 50 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("leased");
    await sleep(300);
    await dict.set("still", "open");
    assert.equal(await dict.get("still"), "open");
    assert.equal(fx.client.connections, 1);
  } finally {
    await fx.close();
  }
});

test("a pooled connection broken by a server restart is replaced by the next proxy", async () => {
  const first = new Server();
  const { port } = await first.start({ hostname: "127.0.0.1", port: 0 });
  let second: Server | undefined;
  let client: Client | undefined;
  try {
    client = await connect({ hostname: "127.0.0.1", port });
    {
      await using proxy = await client.getProxy().connect();
      await proxy.createCyberDict("before");
    }
    assert.equal(client.connections, 1);
    await first.close();
    second = new Server();
    await second.start({ hostname: "127.0.0.1", port });
    // Let the client see the end of the old connection.
    await sleep(200);
    await using proxy = await client.getProxy().connect();
    assert.deepEqual(await proxy.tables(), []);
    await proxy.createCyberList("after");
    assert.equal(client.connections, 1, "the broken connection is still counted");
  } finally {
    await client?.close();
    await second?.close();
    await first.close();
  }
});
