/**
 * Authentication and the handshake: passwords, what crosses the wire before
 * and during auth, misbehaving raw peers, protected mode and encryption
 * negotiation.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AuthenticationError, type Client, connect, EncryptionUnavailableError, Server } from "../mod.ts";
import { decode, encode } from "../src/protocol/codec.ts";
import { type Conn, runtime } from "../src/runtime/mod.ts";
import { assertServes, rejectsWith, startServer } from "./_server.ts";

const PASSWORD = "correct horse battery staple";

/** Rejects after `ms`, so that no test can hang; `clear()` cancels it. */
function deadline(ms: number, what: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no result within ${ms} ms`)),
      ms,
    );
  });
  return { expired, clear: () => clearTimeout(timer) };
}

/** Frames a body: 4-byte big-endian length, then the body. */
function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Cuts a byte stream into frame bodies (a partial frame at the end is ignored). */
function frames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 4 <= bytes.length) {
    const length = view.getUint32(at);
    if (at + 4 + length > bytes.length) break;
    out.push(bytes.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Reads everything a raw connection receives until the peer closes it.
 * Rejects if the peer keeps it open longer than `ms`.
 */
async function readUntilClosed(
  conn: Conn,
  ms: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const limit = deadline(ms, "waiting for the server to close the connection");
  try {
    await Promise.race([
      (async () => {
        for (let chunk = await conn.read(); chunk !== null; chunk = await conn.read()) chunks.push(chunk.slice());
      })(),
      limit.expired,
    ]);
  } finally {
    limit.clear();
  }
  return concat(chunks);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** A TCP relay on a loopback port that records every byte the client sends. */
async function startRelay(targetPort: number) {
  const listener = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  const fromClient: Uint8Array[] = [];
  const conns = new Set<Conn>();
  const pumps: Promise<void>[] = [];
  const pump = async (from: Conn, to: Conn, record?: Uint8Array[]) => {
    try {
      for (let chunk = await from.read(); chunk !== null; chunk = await from.read()) {
        record?.push(chunk.slice());
        await to.write(chunk);
      }
    } catch {
      // one side went away
    } finally {
      for (const conn of [from, to]) {
        conn.close();
        conns.delete(conn);
      }
    }
  };
  const accepting = (async () => {
    for (let client = await listener.accept(); client !== null; client = await listener.accept()) {
      const server = await runtime.connect({ hostname: "127.0.0.1", port: targetPort });
      conns.add(client);
      conns.add(server);
      pumps.push(pump(client, server, fromClient), pump(server, client));
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    sent: () => concat(fromClient),
    async close() {
      listener.close();
      for (const conn of conns) conn.close();
      await accepting;
      await Promise.all(pumps);
    },
  };
}

test("connect() with the wrong password rejects with AUTH_FAILED", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    password: PASSWORD,
  });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port, password: "wrong password" }),
      AuthenticationError,
      "AUTH_FAILED",
    );
    // The refusal does not hurt the server.
    await assertServes(port, PASSWORD);
  } finally {
    await server.close();
  }
});

test("connect() without a password to a password server rejects with AUTH_FAILED", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    password: PASSWORD,
  });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      AuthenticationError,
      "AUTH_FAILED",
    );
  } finally {
    await server.close();
  }
});

test("connect() with a password to a server without one rejects with AUTH_FAILED", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port, password: PASSWORD }),
      AuthenticationError,
      "AUTH_FAILED",
    );
    await assertServes(port);
  } finally {
    await server.close();
  }
});

test("connect() with the right password reads and writes tables", async () => {
  const fx = await startServer({ password: PASSWORD });
  try {
    await using proxy = await fx.client.getProxy().connect();
    const list = await proxy.createCyberList("jobs", ["a"]);
    assert.equal(await list.push("b"), 2);
    assert.deepEqual(await list.toArray(), ["a", "b"]);
    assert.deepEqual(await proxy.tables(), [{
      name: "jobs",
      type: "CyberList",
    }]);
  } finally {
    await fx.close();
  }
});

test("the password never appears in the bytes the client sends", async () => {
  const password = "s3cret-Pässwörd-🔑-on-the-wire";
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    password,
  });
  const relay = await startRelay(port);
  let client: Client | undefined;
  try {
    client = await connect({ hostname: "127.0.0.1", port: relay.port, password });
    {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict("wire_marker_table");
      await dict.set("wire_marker_key", "wire marker value");
      assert.equal(await dict.get("wire_marker_key"), "wire marker value");
    }
    await client.close();
    client = undefined;
    const sent = relay.sent();
    const encoder = new TextEncoder();
    // The capture works: it holds the requests that went through the relay.
    assert.ok(
      indexOf(sent, encoder.encode("wire_marker_table")) >= 0,
      "the relay did not capture the client's requests",
    );
    assert.equal(
      indexOf(sent, encoder.encode(password)),
      -1,
      "the password's UTF-8 bytes were sent on the wire",
    );
    assert.equal(indexOf(sent, encoder.encode("s3cret")), -1);
  } finally {
    await client?.close();
    await relay.close();
    await server.close();
  }
});

test("a raw peer that sends a garbage frame before auth is refused and closed; others are still served", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    password: PASSWORD,
  });
  const conn = await runtime.connect({ hostname: "127.0.0.1", port });
  try {
    // 0xc1 is never used in MessagePack: this body cannot be decoded.
    await conn.write(frame(new Uint8Array([0xc1, 0xc1, 0xff, 0x00, 0x13])));
    const received = frames(await readUntilClosed(conn, 5000));
    assert.equal(received.length, 2, "expected the hello and one refusal");
    const hello = decode(received[0]) as { cyberdb: number; auth: boolean };
    assert.equal(hello.cyberdb, 2);
    assert.equal(hello.auth, true);
    const refusal = decode(received[1]) as { error: [string, string] };
    assert.equal(refusal.error[0], "BAD_REQUEST");
    await assertServes(port, PASSWORD);
  } finally {
    conn.close();
    await server.close();
  }
});

test("a raw peer that sends plain text instead of frames is closed; others are still served", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  const conn = await runtime.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    );
    const received = frames(await readUntilClosed(conn, 5000));
    const last = decode(received[received.length - 1]) as unknown[];
    assert.equal(last[2], "FRAME_TOO_LARGE");
    await assertServes(port);
  } finally {
    conn.close();
    await server.close();
  }
});

test("a raw peer that sends nothing is closed after the handshake timeout; others are still served", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    handshakeTimeout: 300,
  });
  const conn = await runtime.connect({ hostname: "127.0.0.1", port });
  try {
    const started = performance.now();
    const received = frames(await readUntilClosed(conn, 5000));
    const waited = performance.now() - started;
    assert.ok(waited >= 250, `closed after ${waited} ms, before the timeout`);
    assert.equal(received.length, 1, "expected only the server hello");
    assert.equal((decode(received[0]) as { cyberdb: number }).cyberdb, 2);
    await assertServes(port);
  } finally {
    conn.close();
    await server.close();
  }
});

test("a pre-auth frame over 4 KiB gets FRAME_TOO_LARGE and the connection is closed", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    password: PASSWORD,
  });
  const conn = await runtime.connect({ hostname: "127.0.0.1", port });
  try {
    const body = encode({
      nonce: new Uint8Array(32),
      encrypt: false,
      padding: "x".repeat(5000),
    });
    assert.ok(body.length > 4096);
    await conn.write(frame(body)).catch(() => {});
    const received = frames(await readUntilClosed(conn, 5000));
    assert.ok(received.length >= 2, "expected the hello and an error reply");
    const reply = decode(received[received.length - 1]) as unknown[];
    assert.equal(reply[0], 0);
    assert.equal(reply[2], "FRAME_TOO_LARGE");
    await assertServes(port, PASSWORD);
  } finally {
    conn.close();
    await server.close();
  }
});

test("a handshake frame of exactly 4 KiB is still read (and refused as a bad hello)", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  const conn = await runtime.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(frame(new Uint8Array(4096).fill(0xc1)));
    const received = frames(await readUntilClosed(conn, 5000));
    const refusal = decode(received[received.length - 1]) as {
      error: [string, string];
    };
    assert.equal(refusal.error[0], "BAD_REQUEST");
  } finally {
    conn.close();
    await server.close();
  }
});

test("protected mode: listening on 0.0.0.0 without a password is refused", async () => {
  const server = new Server();
  try {
    await assert.rejects(
      server.start({ hostname: "0.0.0.0", port: 0 }),
      (error: Error) => /password/i.test(error.message),
    );
  } finally {
    await server.close();
  }
});

test("protected mode: any non-loopback address without a password is refused before binding", async () => {
  for (const hostname of ["::", "192.0.2.10", "example.com"]) {
    const server = new Server();
    try {
      await assert.rejects(
        server.start({ hostname, port: 0 }),
        (error: Error) => /password/i.test(error.message),
        hostname,
      );
    } finally {
      await server.close();
    }
  }
});

test("protected mode: loopback names and addresses start without a password", async () => {
  for (const hostname of ["127.0.0.1", "localhost", "127.1.2.3"]) {
    const server = new Server();
    try {
      const { port } = await server.start({ hostname, port: 0 });
      assert.ok(port > 0, hostname);
    } finally {
      await server.close();
    }
  }
});

test("an empty password is refused at start with a TypeError", async () => {
  const server = new Server();
  try {
    await assert.rejects(
      server.start({ hostname: "127.0.0.1", port: 0, password: "" }),
      TypeError,
    );
  } finally {
    await server.close();
  }
});

test("protected mode: listening on 0.0.0.0 with a password starts", async () => {
  const server = new Server();
  try {
    const address = await server.start({
      hostname: "0.0.0.0",
      port: 0,
      password: PASSWORD,
    });
    assert.equal(address.hostname, "0.0.0.0");
    assert.ok(address.port > 0);
    await assertServes(address.port, PASSWORD);
  } finally {
    await server.close();
  }
});

test("an encrypting client refuses a plain server with ENCRYPTION_UNAVAILABLE", async () => {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    password: PASSWORD,
  });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port, password: PASSWORD, encrypt: true }),
      EncryptionUnavailableError,
      "ENCRYPTION_UNAVAILABLE",
    );
    await assertServes(port, PASSWORD);
  } finally {
    await server.close();
  }
});
