/**
 * `connect({ sharedConnections })`: proxies multiplexed over a few pooled
 * connections. An option of the remote engine's pool, so these run on a
 * server only; what applies to every engine (many proxies at once, each in
 * its own order) is in the shared suite `tests/suites/tables.ts`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../mod.ts";
import { ENGINES } from "./_engines.ts";
import { startServer, TRANSPORTS } from "./_server.ts";

for (const harness of ENGINES.filter((h) => h.engine !== "remote")) {
  test(
    `${harness.name}: with sharedConnections … (skipped on ${harness.name}: sharedConnections is an option of ` +
      `connect(), the remote engine's pool)`,
    { skip: true },
    () => {},
  );
}

for (const t of TRANSPORTS) {
  test(`${t.name}: with sharedConnections, 40 proxies at once use at most 2 connections and keep each proxy's order`, async () => {
    const fx = await startServer(t.start);
    const client = await connect({ ...fx.options, sharedConnections: 2 });
    try {
      {
        await using setup = await client.getProxy().connect();
        for (let p = 0; p < 40; p++) await setup.createCyberList(`list${p}`);
      }
      const proxies = await Promise.all(Array.from({ length: 40 }, () => client.getProxy().connect()));
      assert.ok(client.connections <= 2, `${client.connections} connections`);
      const lists = await Promise.all(proxies.map((proxy, p) => proxy.getCyberList<number>(`list${p}`)));
      // Every proxy fires 200 pushes without awaiting; the proxies' requests interleave on the shared connections.
      const lengths = await Promise.all(lists.flatMap((list) => Array.from({ length: 200 }, (_, i) => list.push(i))));
      for (let p = 0; p < 40; p++) {
        assert.deepEqual(lengths.slice(p * 200, (p + 1) * 200), Array.from({ length: 200 }, (_, i) => i + 1));
        assert.deepEqual(await lists[p].toArray(), Array.from({ length: 200 }, (_, i) => i));
      }
      assert.ok(fx.server.info().connections.current <= 3, "the server saw at most 2 shared + 1 from the fixture");
      await Promise.all(proxies.map((proxy) => proxy.close()));
    } finally {
      await client.close();
      await fx.close();
    }
  });
}

test("shared connections nobody uses are closed after idleTimeout", async () => {
  const fx = await startServer();
  const client = await connect({ ...fx.options, sharedConnections: 3, idleTimeout: 100 });
  try {
    const proxies = await Promise.all(Array.from({ length: 6 }, () => client.getProxy().connect()));
    assert.ok(client.connections >= 1 && client.connections <= 3);
    await Promise.all(proxies.map((proxy) => proxy.close()));
    const deadline = Date.now() + 5000;
    while (client.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(client.connections, 0);
    // The pool opens a connection again when asked.
    await using proxy = await client.getProxy().connect();
    assert.deepEqual(await proxy.tables(), []);
  } finally {
    await client.close();
    await fx.close();
  }
});

test("a failing request on a shared connection fails only that request", async () => {
  const fx = await startServer();
  const client = await connect({ ...fx.options, sharedConnections: 1 });
  try {
    await using a = await client.getProxy().connect();
    await using b = await client.getProxy().connect();
    const dict = await a.createCyberDict("d", { k: 1 });
    const failing = b.getCyberList("missing");
    const ok = dict.get("k");
    await assert.rejects(failing, (e: Error & { code?: string }) => e.code === "NO_SUCH_TABLE");
    assert.equal(await ok, 1);
  } finally {
    await client.close();
    await fx.close();
  }
});

test("sharedConnections must be a whole number ≥ 0", async () => {
  await assert.rejects(connect({ port: 1, sharedConnections: -1 }), RangeError);
  await assert.rejects(connect({ port: 1, sharedConnections: 1.5 }), RangeError);
});
