/**
 * One round trip per request: a client remembers the tables it resolved,
 * so `getCyberDict(name)` / `getCyberList(name)` ask only the first time,
 * for every proxy of that client; a table another client deleted or
 * replaced meanwhile fails on the handle's first op (`NO_SUCH_TABLE`,
 * `WRONG_TYPE`), and that error, or this client's `deleteTable`, makes it
 * ask again. Runs against every engine in {@link ENGINES}.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  type Engine,
  type EngineConnection,
  NoSuchTableError,
  ProxyClosedError,
  Server,
  WrongTypeError,
} from "../mod.ts";
import { RemoteEngine } from "../src/engines/remote/pool.ts";
import { type EngineHarness, ENGINES, freshName } from "./_engines.ts";
import { rejectsWith } from "./_server.ts";

/** Runs `body` against a freshly started engine of `h`, and stops it. */
function engineTest(h: EngineHarness, name: string, body: (client: Client, another: Client) => Promise<void>): void {
  test(`${name} (${h.name})`, { skip: h.unavailable }, async () => {
    const fixture = await h.start();
    try {
      await body(fixture.client, await fixture.connectAnother());
    } finally {
      await fixture.close();
    }
  });
}

for (const h of ENGINES) {
  engineTest(
    h,
    "a dict deleted by another client after this client resolved it: getCyberDict still resolves, its first op fails NO_SUCH_TABLE, then getCyberDict asks again",
    async (client, another) => {
      const name = freshName("gone");
      await using proxy = await client.getProxy().connect();
      await (await proxy.createCyberDict(name)).set("k", 1);
      assert.equal(await (await proxy.getCyberDict(name)).get("k"), 1);

      await using other = await another.getProxy().connect();
      await other.deleteTable(name);

      // Resolved before: no question asked, so the handle is given …
      const stale = await proxy.getCyberDict(name);
      // … and the server's own check on the op reports the table gone.
      await rejectsWith(stale.get("k"), NoSuchTableError, "NO_SUCH_TABLE");
      // That error made the client forget the name: the next getCyberDict asks, and is refused.
      await rejectsWith(proxy.getCyberDict(name), NoSuchTableError, "NO_SUCH_TABLE");
      // A table created again under the name is found, by any proxy of the client.
      await (await other.createCyberDict(name)).set("k", 2);
      await using second = await client.getProxy().connect();
      assert.equal(await (await second.getCyberDict(name)).get("k"), 2);
    },
  );

  engineTest(
    h,
    "a dict replaced by a list of the same name: the cached dict handle's first op fails WRONG_TYPE, then getCyberDict is refused and getCyberList works",
    async (client, another) => {
      const name = freshName("retyped");
      await using proxy = await client.getProxy().connect();
      await proxy.createCyberDict(name, { k: 1 });
      await proxy.getCyberDict(name);

      await using other = await another.getProxy().connect();
      await other.deleteTable(name);
      await other.createCyberList(name, ["a"]);

      const stale = await proxy.getCyberDict(name);
      await rejectsWith(stale.get("k"), WrongTypeError, "WRONG_TYPE");
      await rejectsWith(proxy.getCyberDict(name), WrongTypeError, "WRONG_TYPE");
      assert.deepEqual(await (await proxy.getCyberList(name)).toArray(), ["a"]);
      // Known as a list now, it is not taken for a dict.
      await rejectsWith(proxy.getCyberDict(name), WrongTypeError, "WRONG_TYPE");
    },
  );

  engineTest(
    h,
    "a list replaced by a dict: the cached list handle's first op fails WRONG_TYPE, then getCyberList is refused",
    async (client, another) => {
      const name = freshName("retyped_list");
      await using proxy = await client.getProxy().connect();
      await proxy.createCyberList(name, [1, 2]);
      await using other = await another.getProxy().connect();
      await other.deleteTable(name);
      await other.createCyberDict(name);

      const stale = await proxy.getCyberList(name);
      await rejectsWith(stale.length(), WrongTypeError, "WRONG_TYPE");
      await rejectsWith(proxy.getCyberList(name), WrongTypeError, "WRONG_TYPE");
    },
  );

  engineTest(
    h,
    "this client's deleteTable forgets the name: getCyberDict and getCyberList then fail NO_SUCH_TABLE at once",
    async (client) => {
      const name = freshName("deleted");
      await using proxy = await client.getProxy().connect();
      await proxy.createCyberDict(name);
      await proxy.getCyberDict(name);
      await using second = await client.getProxy().connect();
      await second.deleteTable(name);
      await rejectsWith(proxy.getCyberDict(name), NoSuchTableError, "NO_SUCH_TABLE");
      await rejectsWith(proxy.getCyberList(name), NoSuchTableError, "NO_SUCH_TABLE");
    },
  );

  engineTest(h, "a name resolved as a dict is still checked when asked for as a list", async (client) => {
    const name = freshName("kind");
    await using proxy = await client.getProxy().connect();
    await proxy.createCyberDict(name);
    await rejectsWith(proxy.getCyberList(name), WrongTypeError, "WRONG_TYPE");
    await rejectsWith(proxy.getCyberList(freshName("missing")), NoSuchTableError, "NO_SUCH_TABLE");
  });
}

/** An engine that counts the requests sent through it. */
function counting(engine: Engine): Engine & { requests: string[] } {
  const requests: string[] = [];
  const wrap = (connection: EngineConnection): EngineConnection => ({
    request(op, table, args) {
      requests.push(`${op} ${table}`);
      return connection.request(op, table, args);
    },
    get closed() {
      return connection.closed;
    },
  });
  const wrapped = new Map<EngineConnection, EngineConnection>();
  return {
    requests,
    name: engine.name,
    get connections() {
      return engine.connections;
    },
    async lease() {
      const inner = await engine.lease();
      const outer = wrap(inner);
      wrapped.set(outer, inner);
      return outer;
    },
    release(connection) {
      const inner = wrapped.get(connection)!;
      wrapped.delete(connection);
      engine.release(inner);
    },
    close: () => engine.close(),
  };
}

test("a request in a web app costs one round trip: getCyberDict asks once per client, not once per proxy", async () => {
  const server = new Server();
  const { port } = await server.start({ port: 0 });
  const engine = counting(new RemoteEngine({ port }));
  const client = new Client(engine);
  try {
    {
      await using setup = await client.getProxy().connect();
      await (await setup.createCyberDict("centre")).set("content", "Hello CyberDB!");
    }
    engine.requests.length = 0;
    for (let i = 0; i < 5; i++) {
      await using proxy = await client.getProxy().connect();
      const centre = await proxy.getCyberDict("centre");
      assert.equal(await centre.get("content"), "Hello CyberDB!");
    }
    assert.deepEqual(engine.requests, Array(5).fill("d.get centre"), "created by this client: never asked");

    // Another client (another worker) asks once, on its first getCyberDict, then never again.
    const otherEngine = counting(new RemoteEngine({ port }));
    const other = new Client(otherEngine);
    try {
      for (let i = 0; i < 3; i++) {
        await using proxy = await other.getProxy().connect();
        assert.equal(await (await proxy.getCyberDict("centre")).get("content"), "Hello CyberDB!");
      }
      assert.deepEqual(otherEngine.requests, ["open centre", "d.get centre", "d.get centre", "d.get centre"]);
    } finally {
      await other.close();
    }
  } finally {
    await client.close();
    await server.close();
  }
});

test("a closed proxy still refuses getCyberDict on a resolved name", async () => {
  const server = new Server();
  const { port } = await server.start({ port: 0 });
  const client = new Client(new RemoteEngine({ port }));
  try {
    const proxy = await client.getProxy().connect();
    await proxy.createCyberDict("t");
    await proxy.close();
    await rejectsWith(proxy.getCyberDict("t"), ProxyClosedError, "PROXY_CLOSED");
  } finally {
    await client.close();
    await server.close();
  }
});
