/**
 * The server's limits: the connection cap (TOO_MANY_CONNECTIONS until one
 * closes) and frame sizes, the server's and the client's, for requests and
 * replies: an oversize frame fails, and the server (and, where it can, the
 * connection) goes on.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Client, connect, CyberDBError, FrameTooLargeError, type Proxy, TooManyConnectionsError } from "../mod.ts";
import { assertServes, type Fixture, rejectsWith, startServer } from "./_server.ts";
import { sleep, within } from "./_timing.ts";

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

// ------------------------------------------------------------ frame limits

// The tests of the server's limit share one server (maxFrameSize 1024), each with a client of its own.
describe("on one server with maxFrameSize 1024", () => {
  let server: Fixture | undefined;
  before(async () => {
    server = await startServer({ maxFrameSize: 1024 }, { maxFrameSize: 1024 * 1024 });
  });
  after(async () => {
    await server?.close();
  });
  /** A fixture on the shared server with a client of its own; its close() closes only that client. */
  async function onTheSharedServer(): Promise<Fixture> {
    if (server === undefined) throw new Error("the shared server did not start; see the before hook");
    const client = await connect(server.options);
    return { ...server, client, close: () => client.close() };
  }

  test("a request over the server's maxFrameSize fails and the server keeps serving", async () => {
    const fx = await onTheSharedServer();
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
    const fx = await onTheSharedServer();
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

  test("a reply over the server's maxFrameSize rejects that request with FRAME_TOO_LARGE and the connection stays usable", async () => {
    const fx = await onTheSharedServer();
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
