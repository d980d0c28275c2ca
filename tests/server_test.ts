/**
 * The server's connection handling and the client's pool: the IP whitelist,
 * the connection cap, ports in use, frame limits, dropped connections,
 * request timeouts, idle connections and idempotent closing.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Client,
  connect,
  ConnectionClosedError,
  CyberDBError,
  ForbiddenError,
  FrameTooLargeError,
  type Proxy,
  Server,
  TimeoutError,
  TooManyConnectionsError,
} from "../mod.ts";
import { type Conn, runtime } from "../src/runtime/mod.ts";
import { IpWhitelist, parseIp } from "../src/server/whitelist.ts";
import { assertServes, rejectsWith, startServer } from "./_server.ts";

/** Settles `promise`, or rejects after `ms` so that no test can hang. */
async function within<T>(
  ms: number,
  what: string,
  promise: Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: no result within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

// ---------------------------------------------------------------- whitelist

test("Server refuses a peer outside the whitelist with FORBIDDEN", async () => {
  const server = new Server();
  server.setIpWhitelist(["10.0.0.0/8"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    const error = await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      ForbiddenError,
      "FORBIDDEN",
    );
    assert.match(error.message, /127\.0\.0\.1/);
  } finally {
    await server.close();
  }
});

test("Server admits a peer whose address is on the whitelist", async () => {
  const server = new Server();
  server.setIpWhitelist(["127.0.0.1"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await assertServes(port);
  } finally {
    await server.close();
  }
});

test("an IPv6-only whitelist refuses an IPv4 loopback peer", async () => {
  const server = new Server();
  server.setIpWhitelist(["::1"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      ForbiddenError,
      "FORBIDDEN",
    );
  } finally {
    await server.close();
  }
});

test("an empty whitelist set after a restrictive one lets everyone in again", async () => {
  const server = new Server();
  server.setIpWhitelist(["10.0.0.0/8"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      ForbiddenError,
      "FORBIDDEN",
    );
    server.setIpWhitelist([]);
    await assertServes(port);
  } finally {
    await server.close();
  }
});

test("IpWhitelist matches CIDR ranges, IPv4-mapped IPv6 and IPv6 prefixes", () => {
  const v4 = new IpWhitelist(["127.0.0.0/8"]);
  assert.equal(v4.allows("127.255.0.1"), true);
  assert.equal(v4.allows("127.0.0.1"), true);
  assert.equal(v4.allows("128.0.0.1"), false);
  assert.equal(v4.allows("::ffff:127.0.0.1"), true);

  const single = new IpWhitelist(["127.0.0.1"]);
  assert.equal(single.allows("::ffff:127.0.0.1"), true);
  assert.equal(single.allows("127.0.0.1"), true);
  assert.equal(single.allows("127.0.0.2"), false);
  assert.equal(single.allows("::1"), false);

  const v6 = new IpWhitelist(["2001:db8::/32"]);
  assert.equal(v6.allows("2001:db8:1::5"), true);
  assert.equal(v6.allows("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), true);
  assert.equal(v6.allows("2001:db9::1"), false);
  assert.equal(v6.allows("127.0.0.1"), false);

  const odd = new IpWhitelist(["10.0.0.0/13"]);
  assert.equal(odd.allows("10.7.255.255"), true);
  assert.equal(odd.allows("10.8.0.0"), false);

  const everyone = new IpWhitelist(["0.0.0.0/0"]);
  assert.equal(everyone.allows("203.0.113.9"), true);

  const loopback6 = new IpWhitelist(["::1"]);
  assert.equal(loopback6.allows("::1"), true);
  assert.equal(loopback6.allows("[::1]"), true);
  assert.equal(loopback6.allows("127.0.0.1"), false);
  assert.equal(loopback6.allows("not an address"), false);
});

test("parseIp reads IPv4, IPv6 and IPv4-mapped forms to the same 16 bytes", () => {
  assert.deepEqual(parseIp("127.0.0.1"), parseIp("::ffff:127.0.0.1"));
  assert.deepEqual(parseIp("::ffff:7f00:1"), parseIp("127.0.0.1"));
  assert.deepEqual(
    parseIp("2001:db8::1"),
    parseIp("2001:0db8:0000:0000:0000:0000:0000:0001"),
  );
  assert.deepEqual(
    parseIp("::1"),
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  );
  assert.deepEqual(parseIp("fe80::1%eth0"), parseIp("fe80::1"));
  for (
    const bad of [
      "",
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "localhost",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, `parseIp(${JSON.stringify(bad)})`);
  }
});

test("IpWhitelist and setIpWhitelist throw TypeError for invalid entries", () => {
  for (
    const bad of [
      "not-an-ip",
      "10.0.0.0/33",
      "::1/129",
      "10.0.0.0/8/8",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/abc",
      "300.1.1.1",
      "",
    ]
  ) {
    assert.throws(
      () => new IpWhitelist([bad]),
      TypeError,
      `new IpWhitelist([${JSON.stringify(bad)}])`,
    );
  }
  const server = new Server();
  assert.throws(() => server.setIpWhitelist(["127.0.0.1", "nope"]), TypeError);
});

// ---------------------------------------------------------- connection cap

test("maxConnections: the connection over the cap is refused with TOO_MANY_CONNECTIONS until one closes", async () => {
  const fx = await startServer({ maxConnections: 3 });
  let other: Client | undefined;
  const proxies: Proxy[] = [];
  try {
    // Two connections leased from the fixture's client, one from another.
    proxies.push(
      ...await Promise.all([
        fx.client.getProxy().connect(),
        fx.client.getProxy().connect(),
      ]),
    );
    other = await connect(fx.options);
    proxies.push(await other.getProxy().connect());
    assert.equal(fx.client.connections, 2);
    assert.equal(other.connections, 1);

    await rejectsWith(
      connect(fx.options),
      TooManyConnectionsError,
      "TOO_MANY_CONNECTIONS",
    );
    // A new proxy on a full pool is refused the same way.
    await rejectsWith(
      fx.client.getProxy().connect(),
      TooManyConnectionsError,
      "TOO_MANY_CONNECTIONS",
    );

    // The three held connections still work.
    const dict = await proxies[0].createCyberDict("cap");
    await dict.set("n", 1);
    assert.equal(await proxies[2].request("d.get", "cap", ["n"]), 1);

    await other.close();
    other = undefined;
    let fourth: Client | undefined;
    for (let attempt = 0; attempt < 100 && !fourth; attempt++) {
      try {
        fourth = await connect(fx.options);
      } catch (error) {
        assert.ok(
          error instanceof TooManyConnectionsError,
          `unexpected ${error}`,
        );
        await sleep(20);
      }
    }
    assert.ok(fourth, "no connection was admitted after one closed");
    try {
      await using proxy = await fourth.getProxy().connect();
      assert.equal(await proxy.request("d.get", "cap", ["n"]), 1);
    } finally {
      await fourth.close();
    }
  } finally {
    for (const proxy of proxies) await proxy.close();
    await other?.close();
    await fx.close();
  }
});

// ------------------------------------------------------------------ ports

test("start on a port that is already taken rejects with 'in use'", async () => {
  const first = new Server();
  const second = new Server();
  try {
    const { port } = await first.start({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(
      second.start({ hostname: "127.0.0.1", port }),
      (error: Error) => /in use/.test(error.message),
    );
    await assertServes(port);
  } finally {
    await second.close();
    await first.close();
  }
});

test("start twice on the same server rejects", async () => {
  const server = new Server();
  try {
    await server.start({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(server.start({ hostname: "127.0.0.1", port: 0 }));
  } finally {
    await server.close();
  }
});

// ------------------------------------------------------------ frame limits

test("a request over the server's maxFrameSize fails and the server keeps serving", async () => {
  const fx = await startServer({ maxFrameSize: 1024 }, {
    maxFrameSize: 1024 * 1024,
  });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("big");
    await dict.set("small", "x".repeat(100));
    const error = await within(
      5000,
      "oversize request",
      dict.set("large", "x".repeat(10_000)).then(
        () => assert.fail("an oversize request was accepted"),
        (error: unknown) => error,
      ),
    );
    assert.ok(error instanceof CyberDBError, `unexpected ${error}`);
    assert.ok(
      error.code === "FRAME_TOO_LARGE" || error.code === "CONNECTION_CLOSED",
      `unexpected code ${error.code}`,
    );
    await assertServes(fx.port);
    // The table is there, without the oversize value.
    const client = await connect(fx.options);
    try {
      await using check = await client.getProxy().connect();
      const again = await check.getCyberDict("big");
      assert.deepEqual(await again.keys(), ["small"]);
    } finally {
      await client.close();
    }
  } finally {
    await fx.close();
  }
});

test("requests pipelined around one over the server's maxFrameSize: earlier ones apply, later ones get CONNECTION_CLOSED", async () => {
  const fx = await startServer({ maxFrameSize: 1024 }, { maxFrameSize: 1024 * 1024 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("pipelined");
    const outcomes = await within(
      5000,
      "pipelined requests",
      Promise.all([
        dict.set("before", 1),
        dict.set("large", "x".repeat(10_000)),
        dict.set("after", 2),
      ].map((p) => p.then(() => "ok", (error: CyberDBError) => error.code))),
    );
    assert.equal(outcomes[0], "ok");
    assert.ok(
      outcomes[1] === "FRAME_TOO_LARGE" || outcomes[1] === "CONNECTION_CLOSED",
      `oversize request: ${outcomes[1]}`,
    );
    assert.equal(outcomes[2], "CONNECTION_CLOSED");
    const client = await connect(fx.options);
    try {
      await using check = await client.getProxy().connect();
      assert.deepEqual(await (await check.getCyberDict("pipelined")).entries(), [["before", 1]]);
    } finally {
      await client.close();
    }
  } finally {
    await fx.close();
  }
});

test("a request over the client's maxFrameSize rejects locally and the connection stays usable", async () => {
  const fx = await startServer({}, { maxFrameSize: 1024 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const dict = await proxy.createCyberDict("local");
    await rejectsWith(
      dict.set("large", "x".repeat(10_000)),
      FrameTooLargeError,
      "FRAME_TOO_LARGE",
    );
    await dict.set("small", "ok");
    assert.equal(await dict.get("small"), "ok");
    assert.equal(await dict.has("large"), false);
    assert.equal(fx.client.connections, 1);
  } finally {
    await fx.close();
  }
});

test("a reply over the server's maxFrameSize rejects that request with FRAME_TOO_LARGE and the connection stays usable", async () => {
  const fx = await startServer({ maxFrameSize: 1024 });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const list = await proxy.createCyberList("grown");
    for (let i = 0; i < 10; i++) await list.push("y".repeat(200));
    await rejectsWith(list.toArray(), FrameTooLargeError, "FRAME_TOO_LARGE");
    assert.equal(await list.length(), 10);
    assert.deepEqual(await list.slice(0, 2), ["y".repeat(200), "y".repeat(200)]);
  } finally {
    await fx.close();
  }
});

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
    let polls = 0;
    while (fx.client.connections > 0 && polls < 100) {
      await sleep(20);
      polls++;
    }
    assert.equal(fx.client.connections, 0, "idle connection was not closed");
    assert.ok(polls * 20 >= 60, `closed after only ~${polls * 20} ms`);

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

// ----------------------------------------------------------------- closing

test("server.close() and client.close() are idempotent, and proxy.close() after client.close() does nothing", async () => {
  const fx = await startServer();
  const proxy = await fx.client.getProxy().connect();
  await fx.client.close();
  await fx.client.close();
  await proxy.close();
  await proxy.close();
  await fx.server.close();
  await Promise.all([fx.server.close(), fx.server.close()]);
  await rejectsWith(
    fx.client.getProxy().connect(),
    ConnectionClosedError,
    "CONNECTION_CLOSED",
  );
  await rejectsWith(
    connect(fx.options),
    ConnectionClosedError,
    "CONNECTION_CLOSED",
  );
});

test("a server that was never started closes cleanly", async () => {
  const server = new Server();
  await server.close();
  await server.close();
});

test("a closed server can be started again on a new port", async () => {
  const server = new Server();
  try {
    await server.start({ hostname: "127.0.0.1", port: 0 });
    await server.close();
    const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
    await assertServes(port);
  } finally {
    await server.close();
  }
});
