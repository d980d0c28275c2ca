/**
 * The encrypted transport under a man in the middle: a relay on loopback
 * between client and server flips bits in records, replays them on the same
 * and on a new connection, and the server must close that connection and
 * apply nothing; plus the encryption mismatch errors of the handshake.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Client,
  connect,
  ConnectionClosedError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  Server,
} from "../mod.ts";
import { Relay } from "./_relay.ts";
import { concat, RawConn } from "./_wire.ts";

const HOST = "127.0.0.1";
const PASSWORD = "correct horse battery staple";

const isClosed = (e: unknown) => e instanceof ConnectionClosedError && e.code === "CONNECTION_CLOSED";

/** Resolves or rejects like `promise`, or rejects after `ms` so no test waits forever. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A copy of a frame with one bit of its body flipped (the length header is left alone). */
function flipBodyBit(frame: Uint8Array, bit = 3): Uint8Array {
  const out = frame.slice();
  out[4 + Math.floor((out.length - 4) / 2)] ^= 1 << bit;
  return out;
}

/** An encrypting server, a relay in front of it and a client connected directly to the server. */
async function setup() {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD, encrypt: true });
  const relay = await Relay.start({ port });
  const clients: Client[] = [];
  const open = async (via: "relay" | "direct") => {
    const client = await connect({
      hostname: HOST,
      port: via === "relay" ? relay.port : port,
      password: PASSWORD,
      encrypt: true,
    });
    clients.push(client);
    return client;
  };
  return {
    server,
    port,
    relay,
    open,
    async close() {
      for (const client of clients) await client.close();
      await relay.close();
      await server.close();
    },
  };
}

test("a bit flipped in a client-to-server record closes that connection only, and its write is not applied", async () => {
  const env = await setup();
  try {
    await using direct = await (await env.open("direct")).getProxy().connect();
    const table = await direct.createCyberDict("t");
    await table.set("k", "original");

    await using victim = await (await env.open("relay")).getProxy().connect();
    const tampered = await victim.getCyberDict("t");
    assert.equal(await tampered.get("k"), "original", "requests pass the relay untouched");
    const [link] = await env.relay.waitForLinks(1);
    assert.ok(link.seen.toServer.length >= 2, "the handshake is done: what follows are records");

    let flipped = 0;
    env.relay.intercept = (bytes, direction) => {
      if (direction !== "toServer" || flipped > 0) return;
      flipped++;
      return flipBodyBit(bytes);
    };
    await assert.rejects(within(tampered.set("k", "tampered"), 5_000, "the tampered set"), isClosed);
    assert.equal(flipped, 1);
    await within(link.ended.toClient, 5_000, "the server closing the tampered connection");
    await assert.rejects(within(tampered.get("k"), 5_000, "a request after the close"), isClosed);

    // The other client, on its own connection to the same server, goes on as before.
    assert.equal(await table.get("k"), "original", "the tampered write must not apply");
    await table.set("after", 1);
    assert.deepEqual(await table.toObject(), { k: "original", after: 1 });
  } finally {
    await env.close();
  }
});

test("a bit flipped in a server-to-client record makes the client close with CONNECTION_CLOSED", async () => {
  const env = await setup();
  try {
    await using direct = await (await env.open("direct")).getProxy().connect();
    const table = await direct.createCyberDict("t");
    await table.set("k", "v");
    await using victim = await (await env.open("relay")).getProxy().connect();
    const dict = await victim.getCyberDict("t");
    const [link] = await env.relay.waitForLinks(1);

    let flipped = 0;
    env.relay.intercept = (bytes, direction) => {
      if (direction !== "toClient" || flipped > 0) return;
      flipped++;
      return flipBodyBit(bytes, 6);
    };
    await assert.rejects(within(dict.get("k"), 5_000, "the get with a tampered reply"), isClosed);
    assert.equal(flipped, 1);
    await within(link.done, 5_000, "the tampered link closing");
    assert.equal(await table.get("k"), "v", "the server and the other client are unaffected");
  } finally {
    await env.close();
  }
});

test("a client-to-server record replayed on the same connection closes it, and applies at most once", async () => {
  const env = await setup();
  try {
    await using direct = await (await env.open("direct")).getProxy().connect();
    const counter = await direct.createCyberDict("t");

    await using victim = await (await env.open("relay")).getProxy().connect();
    const dict = await victim.getCyberDict("t");
    const [link] = await env.relay.waitForLinks(1);
    const before = link.seen.toServer.length;
    assert.equal(await dict.increment("n"), 1);
    assert.equal(link.seen.toServer.length, before + 1, "one increment, one record");
    const captured = link.seen.toServer[before];

    await link.inject("toServer", captured);
    await within(link.ended.toClient, 5_000, "the server closing the connection with the replay");
    await assert.rejects(within(dict.increment("n"), 5_000, "a request after the replay"), isClosed);
    assert.equal(await counter.get("n"), 1, "the replayed increment must not apply again");
  } finally {
    await env.close();
  }
});

test("a record captured on one connection and replayed on a new one is rejected and changes nothing", async () => {
  const env = await setup();
  try {
    await using direct = await (await env.open("direct")).getProxy().connect();
    const counter = await direct.createCyberDict("t");

    await using first = await (await env.open("relay")).getProxy().connect();
    assert.equal(await first.request("d.increment", "t", ["n"]), 1);
    const [link1] = await env.relay.waitForLinks(1);
    // Client hello, client proof, then the increment: the first record, sealed with counter 0 —
    // the very counter the new connection's first record will have.
    assert.equal(link1.seen.toServer.length, 3);
    const captured = link1.seen.toServer[2];

    const second = await env.open("relay");
    const [, link2] = await env.relay.waitForLinks(2);
    await link2.inject("toServer", captured);
    await within(link2.ended.toClient, 5_000, "the server closing the connection with the foreign record");
    await using proxy2 = await second.getProxy().connect();
    await assert.rejects(within(proxy2.request("d.get", "t", ["n"]), 5_000, "a request after the replay"), isClosed);

    assert.equal(await counter.get("n"), 1, "the foreign record must not apply");
    // The first connection is untouched by what happened to the second.
    assert.equal(await first.request("d.increment", "t", ["n"]), 2);
    assert.equal(link1.closed, false);
  } finally {
    await env.close();
  }
});

test("a whole captured session replayed on a new raw connection fails authentication and changes nothing", async () => {
  const env = await setup();
  let raw: RawConn | undefined;
  try {
    await using direct = await (await env.open("direct")).getProxy().connect();
    const counter = await direct.createCyberDict("t");
    await using victim = await (await env.open("relay")).getProxy().connect();
    assert.equal(await victim.request("d.increment", "t", ["n"]), 1);
    const [link] = await env.relay.waitForLinks(1);

    raw = await RawConn.connect(env.port);
    const hello = await raw.read() as { nonce: Uint8Array };
    assert.ok(hello.nonce instanceof Uint8Array);
    await raw.write(concat(link.seen.toServer));
    const answers = await raw.readToEnd(5_000);
    // The replayed hello gets a proof over this connection's transcript; the replayed proof, made for
    // another transcript, is refused; then the server closes.
    assert.equal(answers.length, 2, "the server's proof, one refusal, then the server closes");
    assert.ok((answers[0] as { proof?: Uint8Array }).proof instanceof Uint8Array);
    assert.deepEqual((answers[1] as { error: unknown[] }).error?.[0], "AUTH_FAILED");
    assert.equal(await counter.get("n"), 1);
  } finally {
    raw?.close();
    await env.close();
  }
});

test("a plain client to an encrypting server: connect() rejects with ENCRYPTION_REQUIRED", async () => {
  const server = new Server();
  try {
    const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD, encrypt: true });
    for (const options of [{ password: PASSWORD }, { password: PASSWORD, encrypt: false }, {}]) {
      await assert.rejects(connect({ hostname: HOST, port, ...options }), (e: unknown) => {
        assert.ok(e instanceof EncryptionRequiredError, String(e));
        assert.equal(e.code, "ENCRYPTION_REQUIRED");
        assert.match(e.message, /encrypt: true/);
        return true;
      });
    }
    // The server refuses a client that claims not to encrypt, whatever the client library does.
    const raw = await RawConn.connect(port);
    try {
      await raw.read();
      await raw.send({ nonce: new Uint8Array(32), proof: new Uint8Array(32), encrypt: false });
      const [welcome] = await raw.readToEnd();
      assert.equal((welcome as { error: string[] }).error[0], "ENCRYPTION_REQUIRED");
      assert.match((welcome as { error: string[] }).error[1], /encrypt: true/);
    } finally {
      raw.close();
    }
    // And a proper client still gets in.
    const client = await connect({ hostname: HOST, port, password: PASSWORD, encrypt: true });
    await client.close();
  } finally {
    await server.close();
  }
});

test("an encrypting client to a plain server: connect() rejects with ENCRYPTION_UNAVAILABLE", async () => {
  for (const start of [{ password: PASSWORD }, {}]) {
    const server = new Server();
    try {
      const { port } = await server.start({ hostname: HOST, port: 0, ...start });
      await assert.rejects(connect({ hostname: HOST, port, password: start.password, encrypt: true }), (e: unknown) => {
        assert.ok(e instanceof EncryptionUnavailableError, String(e));
        assert.equal(e.code, "ENCRYPTION_UNAVAILABLE");
        return true;
      });
      // The server refuses a client that asks for encryption it does not offer.
      const raw = await RawConn.connect(port);
      try {
        await raw.read();
        await raw.send({ nonce: new Uint8Array(32), encrypt: true });
        const [welcome] = await raw.readToEnd();
        assert.equal((welcome as { error: string[] }).error[0], "ENCRYPTION_UNAVAILABLE");
      } finally {
        raw.close();
      }
      const client = await connect({ hostname: HOST, port, password: start.password });
      await client.close();
    } finally {
      await server.close();
    }
  }
});

test("server.start({ encrypt: true }) without a password rejects and listens on nothing", async () => {
  const server = new Server();
  try {
    await assert.rejects(server.start({ hostname: HOST, port: 0, encrypt: true }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /password/);
      return true;
    });
    // Not half-started: the same server starts fine once given a password.
    const { port } = await server.start({ hostname: HOST, port: 0, encrypt: true, password: PASSWORD });
    const client = await connect({ hostname: HOST, port, password: PASSWORD, encrypt: true });
    await client.close();
  } finally {
    await server.close();
  }
});
