/**
 * The handshake against the attacks it is built for: a fake server that asks
 * for few iterations, or that cannot prove it knows the password, learns
 * nothing derived from it; a relay that changes any byte of either hello
 * breaks the handshake; a captured session cannot be decrypted with the
 * password alone (forward secrecy); the client's cache of derived keys is
 * bounded.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AuthenticationError, BadRequestError, connect, Server } from "../mod.ts";
import { cachedPasswordKeys, KEY_CACHE_SIZE, passwordKey } from "../src/crypto/password_key.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { connectionKeys, ephemeralKey } from "../src/crypto/key_exchange.ts";
import { deriveSessionSecrets, RecordOpener } from "../src/crypto/record.ts";
import { decode, encode } from "../src/protocol/codec.ts";
import { PROTOCOL_VERSION } from "../src/protocol/messages.ts";
import { type Conn, runtime } from "../src/runtime/mod.ts";
import { Relay } from "./_relay.ts";
import { rejectsWith } from "./_server.ts";
import { concat, frame } from "./_wire.ts";

const PASSWORD = "correct horse battery staple";
const HOST = "127.0.0.1";

/** Reads frames from a raw connection until `count` arrived, the peer closed, or `ms` passed. */
async function readFrames(conn: Conn, count: number, ms: number): Promise<Uint8Array[]> {
  let buffer = new Uint8Array(0);
  const out: Uint8Array[] = [];
  const deadline = performance.now() + ms;
  while (out.length < count && performance.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const chunk = await Promise.race([
      conn.read().catch(() => null),
      new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), deadline - performance.now())),
    ]);
    clearTimeout(timer);
    if (chunk === null || chunk === "late") break;
    buffer = concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 4) break;
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(0);
      if (buffer.length < 4 + length) break;
      out.push(buffer.slice(4, 4 + length));
      buffer = buffer.slice(4 + length);
    }
  }
  return out;
}

/**
 * A fake cyberdb server on loopback: sends `hello` to each client, then plays
 * `answer` (frames to send after each client frame), and records everything
 * the client sent.
 */
async function fakeServer(hello: Record<string, unknown>, answer: (from: Uint8Array) => Uint8Array | undefined) {
  const listener = await runtime.listen({ hostname: HOST, port: 0 });
  const received: Uint8Array[] = [];
  const served = (async () => {
    const conn = await listener.accept();
    if (conn === null) return;
    try {
      await conn.write(frame(encode(hello)));
      for (let turn = 0; turn < 4; turn++) {
        const [next] = await readFrames(conn, 1, 5_000);
        if (next === undefined) break;
        received.push(next);
        const reply = answer(next);
        if (reply) await conn.write(frame(reply));
      }
    } catch {
      // the client went away
    } finally {
      conn.close();
    }
  })();
  return {
    port: listener.addr.port,
    received,
    async close() {
      listener.close();
      await served;
    },
  };
}

async function genuineHello(iterations: number) {
  return {
    cyberdb: PROTOCOL_VERSION,
    auth: true,
    encrypt: false,
    nonce: randomBytes(32),
    salt: randomBytes(16),
    iterations,
    key: (await ephemeralKey()).publicKey,
  };
}

test("a fake server that asks for 1 PBKDF2 iteration is refused before the client sends anything", async () => {
  const fake = await fakeServer(await genuineHello(1), () => undefined);
  try {
    const error = await rejectsWith(
      connect({ hostname: HOST, port: fake.port, password: PASSWORD, connectTimeout: 5_000 }),
      BadRequestError,
      "BAD_REQUEST",
    );
    assert.match(error.message, /iterations/);
  } finally {
    await fake.close();
  }
  assert.deepEqual(fake.received, [], "the client sent nothing at all");
});

test("the iteration floor is 100,000 by default; minIterations changes it", async () => {
  for (const [iterations, minIterations, refused] of [[99_999, undefined, true], [1_000, 1_000, false]] as const) {
    const fake = await fakeServer(await genuineHello(iterations), () => encode({ proof: randomBytes(32) }));
    try {
      const error = await rejectsWith(
        connect({ hostname: HOST, port: fake.port, password: PASSWORD, minIterations, connectTimeout: 5_000 }),
        refused ? BadRequestError : AuthenticationError,
        refused ? "BAD_REQUEST" : "AUTH_FAILED",
      );
      if (!refused) assert.match(error.message, /could not prove/);
    } finally {
      await fake.close();
    }
    assert.equal(fake.received.length, refused ? 0 : 2, `${iterations} iterations, floor ${minIterations}`);
  }
});

test("a fake server that cannot prove the password gets no proof: only the client's hello and a refusal", async () => {
  const fake = await fakeServer(await genuineHello(100_000), () => encode({ proof: randomBytes(32) }));
  try {
    await rejectsWith(
      connect({ hostname: HOST, port: fake.port, password: PASSWORD, connectTimeout: 10_000 }),
      AuthenticationError,
      "AUTH_FAILED",
    );
  } finally {
    await fake.close();
  }
  const [hello, ...rest] = fake.received.map((m) => decode(m) as Record<string, unknown>);
  assert.deepEqual(Object.keys(hello).sort(), ["encrypt", "key", "nonce"], "the hello has nothing from the password");
  assert.equal(rest.length, 1);
  assert.deepEqual(Object.keys(rest[0]), ["error"], "after the bad proof: only the reason, no proof");
});

for (const [direction, what] of [["toClient", "server's"], ["toServer", "client's"]] as const) {
  test(`a relay that changes one byte of the ${what} hello breaks the handshake (the transcript covers it)`, async () => {
    const server = new Server();
    const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD, encrypt: true });
    const relay = await Relay.start({
      port,
      intercept(bytes, way, link) {
        // The first frame each way is the hello; flip one bit of its nonce (the last 32 bytes or so).
        if (way !== direction || link.seen[way].length !== 1) return;
        const changed = bytes.slice();
        const hello = decode(changed.subarray(4)) as { nonce: Uint8Array };
        const at = changed.findIndex((_, i) => hello.nonce.every((b, j) => changed[i + j] === b));
        changed[at] ^= 1;
        return changed;
      },
    });
    try {
      await rejectsWith(
        connect({ hostname: HOST, port: relay.port, password: PASSWORD, encrypt: true, connectTimeout: 10_000 }),
        AuthenticationError,
        "AUTH_FAILED",
      );
    } finally {
      await relay.close();
      await server.close();
    }
  });
}

test("forward secrecy: the password and every byte of a session do not open its records", async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: HOST, port: 0, password: PASSWORD, encrypt: true });
  const relay = await Relay.start({ port });
  try {
    const client = await connect({ hostname: HOST, port: relay.port, password: PASSWORD, encrypt: true });
    try {
      await using proxy = await client.getProxy().connect();
      await proxy.createCyberDict("secret", { k: "forward secret" });
    } finally {
      await client.close();
    }
    const [link] = await relay.waitForLinks(1);
    const serverHello = decode(link.seen.toClient[0].subarray(4)) as Record<string, Uint8Array>;
    const [clientHello, , record] = link.seen.toServer;
    const clientNonce = (decode(clientHello.subarray(4)) as { nonce: Uint8Array }).nonce;
    // An attacker with the password, the salt and the captured hellos — but neither ephemeral private key.
    const key = await passwordKey(PASSWORD, serverHello.salt, Number(serverHello.iterations));
    const tries = [
      await deriveSessionSecrets(key.hkdf, serverHello.nonce, clientNonce), // keys as protocol 1 made them
      await deriveSessionSecrets(
        (await connectionKeys(key, randomBytes(32), randomBytes(32))).records,
        serverHello.nonce,
        clientNonce,
      ),
    ];
    for (const secrets of tries) {
      const opener = await RecordOpener.create(secrets.clientToServer);
      await assert.rejects(async () => await opener.open(record.slice(4)));
    }
  } finally {
    await relay.close();
    await server.close();
  }
});

test(`the client keeps at most ${KEY_CACHE_SIZE} derived password keys`, async () => {
  for (let i = 0; i < KEY_CACHE_SIZE + 8; i++) await passwordKey(PASSWORD, randomBytes(16), 1_000);
  assert.equal(cachedPasswordKeys(), KEY_CACHE_SIZE);
  // The most recently used key stays.
  const salt = randomBytes(16);
  const kept = await passwordKey(PASSWORD, salt, 1_000);
  for (let i = 0; i < KEY_CACHE_SIZE - 1; i++) await passwordKey(PASSWORD, randomBytes(16), 1_000);
  assert.equal(await passwordKey(PASSWORD, salt, 1_000), kept);
});
