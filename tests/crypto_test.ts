/**
 * The handshake and record modules on their own: per-connection keys that
 * never repeat, AES-GCM records that refuse tampering, replay, reordering
 * and truncation, and a password that never appears in a handshake message.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientHandshake, NONCE_SIZE, passwordKey, type ServerAuth, ServerHandshake } from "../src/crypto/handshake.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { deriveSessionSecrets, RECORD_OVERHEAD, RecordOpener, RecordSealer } from "../src/crypto/record.ts";
import { decode, encode } from "../src/protocol/codec.ts";
import { connect, ConnectionClosedError, Server } from "../mod.ts";
import { spawnScript } from "./_child_server.ts";

const PASSWORD = "correct horse battery staple";
/** Few iterations: these tests are about what is derived, not how slowly. */
const ITERATIONS = 1_000;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const isClosed = (e: unknown) => e instanceof ConnectionClosedError && e.code === "CONNECTION_CLOSED";

/** Whether `needle` occurs as a contiguous run of bytes in `haystack`. */
function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

/** The two ways records are sealed: the runtime's node:crypto cipher, and the Web Crypto fallback. */
const PATHS = [{ name: "node:crypto", webCrypto: false }, { name: "Web Crypto", webCrypto: true }];

/**
 * A sealer and an opener for one direction of a fresh connection.
 *
 * @param seal which path seals
 * @param open which path opens (the same by default)
 */
async function pair(
  seal = PATHS[0],
  open = seal,
): Promise<{ sealer: RecordSealer; opener: RecordOpener }> {
  const key = await passwordKey(PASSWORD, randomBytes(16), ITERATIONS);
  const secrets = await deriveSessionSecrets(key.hkdf, randomBytes(NONCE_SIZE), randomBytes(NONCE_SIZE));
  return {
    sealer: await RecordSealer.create(secrets.clientToServer, { webCrypto: seal.webCrypto }),
    opener: await RecordOpener.create(secrets.clientToServer, { webCrypto: open.webCrypto }),
  };
}

/** Opens a record as a promise, whether the path throws at once or rejects. */
const opened = async (opener: RecordOpener, record: Uint8Array<ArrayBuffer>) => await opener.open(record);

const text = (s: string) => new TextEncoder().encode(s);

test("two connections with the same password derive four different session keys", async () => {
  const salt = randomBytes(16);
  const key = await passwordKey(PASSWORD, salt, ITERATIONS);
  const [s1, c1, s2, c2] = [0, 1, 2, 3].map(() => randomBytes(NONCE_SIZE));
  assert.notEqual(hex(s1), hex(s2), "handshake nonces must be fresh");
  const first = await deriveSessionSecrets(key.hkdf, s1, c1);
  const second = await deriveSessionSecrets(key.hkdf, s2, c2);
  const keys = [first.clientToServer, first.serverToClient, second.clientToServer, second.serverToClient];
  for (const k of keys) assert.equal(k.length, 32, "AES-256 needs 32-byte keys");
  assert.equal(new Set(keys.map(hex)).size, 4, "no key may be shared between connections or directions");
  assert.notEqual(hex(first.clientToServer), hex(first.serverToClient));

  // Same nonces, same password: the same keys (both sides must agree) …
  const again = await deriveSessionSecrets(key.hkdf, s1, c1);
  assert.equal(hex(again.clientToServer), hex(first.clientToServer));
  assert.equal(hex(again.serverToClient), hex(first.serverToClient));
  // … and swapping the nonces' roles gives other keys.
  const swapped = await deriveSessionSecrets(key.hkdf, c1, s1);
  assert.notEqual(hex(swapped.clientToServer), hex(first.clientToServer));
});

for (const path of PATHS) {
  test(`the same plaintext sealed on two connections gives different records (no shared key and nonce) (${path.name})`, async () => {
    const a = await pair(path);
    const b = await pair(path);
    const plaintext = text("the same request on both connections");
    const ra = await a.sealer.seal(plaintext.slice());
    const rb = await b.sealer.seal(plaintext.slice());
    assert.equal(ra.length, plaintext.length + RECORD_OVERHEAD);
    assert.notEqual(hex(ra), hex(rb));
    // Within one connection the counter nonce changes too: the same plaintext twice differs.
    const ra2 = await a.sealer.seal(plaintext.slice());
    assert.notEqual(hex(ra), hex(ra2));
    // And a record of one connection does not open on the other.
    await assert.rejects(opened(b.opener, ra), isClosed);
  });

  test(`a sealed record opens to its plaintext, in order, and its bytes hide the plaintext (${path.name})`, async () => {
    const { sealer, opener } = await pair(path);
    const messages = ["first", "", "third message, a bit longer", "x".repeat(100_000)];
    const records = [];
    for (const m of messages) records.push(await sealer.seal(text(m)));
    for (const [i, record] of records.entries()) {
      assert.equal(record.length, text(messages[i]).length + RECORD_OVERHEAD);
      assert.equal(new TextDecoder().decode(await opener.open(record)), messages[i]);
    }
    assert.ok(!containsBytes(records[2], text("third message")), "the plaintext must not show in the record");
  });

  test(`a record with one bit flipped fails to open with CONNECTION_CLOSED (${path.name})`, async () => {
    const plaintext = text("[1, d.set, t, k, 5]");
    // Every bit position of a short record: ciphertext and tag alike are covered.
    const probe = await pair(path);
    const length = (await probe.sealer.seal(plaintext.slice())).length;
    for (let bit = 0; bit < length * 8; bit += 7) {
      const { sealer, opener } = await pair(path);
      const record = await sealer.seal(plaintext.slice());
      record[bit >> 3] ^= 1 << (bit & 7);
      await assert.rejects(opened(opener, record), isClosed, `bit ${bit} flipped must not open`);
    }
    // The control: the same steps without the flip open fine.
    const { sealer, opener } = await pair(path);
    assert.deepEqual(await opener.open(await sealer.seal(plaintext.slice())), plaintext);
  });

  test(`a record opened twice (replayed) fails the second time (${path.name})`, async () => {
    const { sealer, opener } = await pair(path);
    const record = await sealer.seal(text("increment n"));
    assert.equal(new TextDecoder().decode(await opener.open(record.slice())), "increment n");
    await assert.rejects(opened(opener, record.slice()), isClosed);
  });

  test(`records opened out of order fail (${path.name})`, async () => {
    const { sealer, opener } = await pair(path);
    await sealer.seal(text("one"));
    const second = await sealer.seal(text("two"));
    await assert.rejects(opened(opener, second), isClosed, "the second record must not open first");

    // Dropping a record is the same: the next one does not open at the dropped one's place.
    const other = await pair(path);
    await other.sealer.seal(text("dropped"));
    const after = await other.sealer.seal(text("after"));
    await assert.rejects(opened(other.opener, after), isClosed);
  });

  test(`a truncated record fails to open, as does an empty one (${path.name})`, async () => {
    for (const cut of [1, 8, RECORD_OVERHEAD - 1, RECORD_OVERHEAD]) {
      const { sealer, opener } = await pair(path);
      const record = await sealer.seal(text("a request that gets cut short"));
      await assert.rejects(opened(opener, record.slice(0, record.length - cut)), isClosed, `cut by ${cut}`);
    }
    const { opener } = await pair(path);
    await assert.rejects(opened(opener, new Uint8Array(0)), isClosed);
    // A record with bytes appended fails too.
    const { sealer, opener: o2 } = await pair(path);
    const record = await sealer.seal(text("whole"));
    const longer = new Uint8Array(record.length + 1);
    longer.set(record);
    await assert.rejects(opened(o2, longer), isClosed);
  });
}

test("a record sealed by node:crypto opens with Web Crypto and back, in order, byte for byte the same", async () => {
  const [native, web] = PATHS;
  const key = await passwordKey(PASSWORD, randomBytes(16), ITERATIONS);
  const secrets = await deriveSessionSecrets(key.hkdf, randomBytes(NONCE_SIZE), randomBytes(NONCE_SIZE));
  const make = async (path: (typeof PATHS)[number]) => ({
    sealer: await RecordSealer.create(secrets.clientToServer, { webCrypto: path.webCrypto }),
    opener: await RecordOpener.create(secrets.clientToServer, { webCrypto: path.webCrypto }),
  });
  const a = await make(native), b = await make(web);
  assert.equal(a.sealer.synchronous, true, "Deno and Node both have node:crypto's aes-256-gcm");
  assert.equal(b.sealer.synchronous, false);
  const messages = ["first", "", "x".repeat(100_000), "last"];
  for (const m of messages) {
    // The same key and counter give the same record on both paths …
    const fromNative = await a.sealer.seal(text(m));
    const fromWeb = await b.sealer.seal(text(m));
    assert.equal(hex(fromNative), hex(fromWeb), `record of ${m.length} bytes differs between the paths`);
    // … and each opens with the other.
    assert.equal(new TextDecoder().decode(await b.opener.open(fromNative)), m);
    assert.equal(new TextDecoder().decode(await a.opener.open(fromWeb)), m);
  }
});

for (const [seal, open] of [[PATHS[0], PATHS[1]], [PATHS[1], PATHS[0]]]) {
  test(`sealed by ${seal.name}, opened by ${open.name}: tampered, replayed and reordered records fail`, async () => {
    const tampered = await pair(seal, open);
    const record = await tampered.sealer.seal(text("[1, d.set, t, k, 5]"));
    record[record.length - 1] ^= 1;
    await assert.rejects(opened(tampered.opener, record), isClosed, "a flipped tag bit must not open");

    const replayed = await pair(seal, open);
    const once = await replayed.sealer.seal(text("increment n"));
    assert.equal(new TextDecoder().decode(await replayed.opener.open(once.slice())), "increment n");
    await assert.rejects(opened(replayed.opener, once.slice()), isClosed, "a replay must not open");

    const reordered = await pair(seal, open);
    await reordered.sealer.seal(text("one"));
    const second = await reordered.sealer.seal(text("two"));
    await assert.rejects(opened(reordered.opener, second), isClosed, "the second record must not open first");
  });
}

for (const [serverPath, clientPath] of [[PATHS[0], PATHS[1]], [PATHS[1], PATHS[0]]]) {
  test(`a ${serverPath.name} server and a ${clientPath.name} client talk encrypted, both ways`, async () => {
    const server = new Server();
    const password = "correct horse battery staple";
    const { port } = await server.start({ port: 0, password, encrypt: true, webCrypto: serverPath.webCrypto });
    try {
      const client = await connect({ port, password, encrypt: true, webCrypto: clientPath.webCrypto });
      try {
        await using proxy = await client.getProxy().connect();
        const dict = await proxy.createCyberDict("paths");
        const big = "v".repeat(300_000);
        await Promise.all(Array.from({ length: 50 }, (_, i) => dict.set(`k${i}`, i === 7 ? big : i)));
        assert.equal(await dict.size(), 50);
        assert.equal(await dict.get("k7"), big);
        assert.deepEqual(await Promise.all([1, 2, 3].map((i) => dict.get(`k${i}`))), [1, 2, 3]);
      } finally {
        await client.close();
      }
    } finally {
      await server.close();
    }
  });
}

test("CYBERDB_WEBCRYPTO=1 forces the Web Crypto path; without it, records take node:crypto", async () => {
  for (const [env, expected] of [[{}, "node:crypto"], [{ CYBERDB_WEBCRYPTO: "1" }, "Web Crypto"]] as const) {
    const child = spawnScript("tests/_record_path.ts", [], env);
    try {
      assert.equal((await child.exit()).code, 0, child.stderr);
      assert.match(child.stdout, new RegExp(`record path: ${expected}`));
    } finally {
      await child.kill();
    }
  }
});

/** Runs a whole handshake in memory; returns every message sent, and both sides' record keys. */
async function handshakeInMemory(auth: ServerAuth, password: string) {
  const server = await ServerHandshake.create(auth);
  const client = new ClientHandshake({ password, encrypt: auth.encrypt, minIterations: ITERATIONS });
  const sent: Uint8Array[] = [server.hello];
  let toClient: Uint8Array | undefined = server.hello;
  for (let turn = 0; turn < 5 && toClient !== undefined; turn++) {
    const mine = await client.receive(toClient);
    if (mine.done) return { sent, client: mine.secrets };
    sent.push(mine.send!);
    const theirs = await server.receive(mine.send!);
    if (theirs.refused !== undefined) return { sent, refused: theirs.refused };
    sent.push(theirs.send!);
    toClient = theirs.send;
    if (theirs.done) {
      const last = await client.receive(toClient!);
      return { sent, client: last.secrets, server: theirs.secrets };
    }
  }
  throw new Error("the handshake did not end");
}

test("the password's bytes never appear in any handshake message", async () => {
  const password = "pa55-Wörd-only-in-memory";
  const salt = randomBytes(16);
  const key = await passwordKey(password, salt, ITERATIONS);
  for (const encrypt of [false, true]) {
    const auth: ServerAuth = { key, salt, iterations: ITERATIONS, encrypt };
    const ok = await handshakeInMemory(auth, password);
    assert.equal(ok.refused, undefined, "the handshake itself must succeed");
    assert.equal(ok.sent.length, 5, "hello, hello, server proof, client proof, welcome");
    if (encrypt) assert.equal(hex(ok.client!.clientToServer), hex(ok.server!.clientToServer));
    await assert.rejects(handshakeInMemory(auth, password + "x"), (e: Error & { code?: string }) => {
      assert.equal(e.code, "AUTH_FAILED", "a wrong password must be refused");
      return true;
    });

    const needles = [
      text(password),
      new TextEncoder().encode(password.normalize("NFD")),
      ...[16, 8].map((n) => text(password).slice(0, n)),
      new Uint8Array([...password].flatMap((c) => [c.charCodeAt(0) & 0xff, c.charCodeAt(0) >> 8])), // UTF-16LE
    ];
    for (const bytes of ok.sent) {
      for (const needle of needles) {
        assert.ok(!containsBytes(bytes, needle), `password bytes found in a handshake message`);
      }
    }
    // The proofs are HMACs, 32 bytes, and differ for each connection.
    const again = await handshakeInMemory(auth, password);
    for (const i of [2, 3]) {
      const first = decode(ok.sent[i]) as { proof: Uint8Array };
      const second = decode(again.sent[i]) as { proof: Uint8Array };
      assert.equal(first.proof.length, 32);
      assert.notEqual(hex(first.proof), hex(second.proof));
    }
  }
});

test("the containsBytes check used above does find bytes that are there", () => {
  // Guards the password test against a search that can never succeed.
  const message = encode({ secret: "pa55-Wörd-only-in-memory" });
  assert.ok(containsBytes(message, text("pa55-Wörd-only-in-memory")));
  assert.ok(!containsBytes(message, text("pa55-Wörd-only-in-memorz")));
});
