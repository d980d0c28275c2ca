/**
 * The handshake and record modules on their own: per-connection keys that
 * never repeat, AES-GCM records that refuse tampering, replay, reordering
 * and truncation, and a password that never appears in a handshake message.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  answerServerHello,
  checkClientHello,
  checkServerWelcome,
  NONCE_SIZE,
  passwordKey,
  randomBytes,
  type ServerAuth,
  serverHello,
} from "../src/crypto/handshake.ts";
import { deriveSessionSecrets, RECORD_OVERHEAD, RecordOpener, RecordSealer } from "../src/crypto/record.ts";
import { encode } from "../src/protocol/codec.ts";
import { ConnectionClosedError } from "../mod.ts";

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

/** A sealer and an opener for one direction of a fresh connection. */
async function pair(): Promise<{ sealer: RecordSealer; opener: RecordOpener }> {
  const key = await passwordKey(PASSWORD, randomBytes(16), ITERATIONS);
  const secrets = await deriveSessionSecrets(key.hkdf, randomBytes(NONCE_SIZE), randomBytes(NONCE_SIZE));
  return {
    sealer: await RecordSealer.create(secrets.clientToServer),
    opener: await RecordOpener.create(secrets.clientToServer),
  };
}

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

test("the same plaintext sealed on two connections gives different records (no shared key and nonce)", async () => {
  const a = await pair();
  const b = await pair();
  const plaintext = text("the same request on both connections");
  const ra = await a.sealer.seal(plaintext.slice());
  const rb = await b.sealer.seal(plaintext.slice());
  assert.equal(ra.length, plaintext.length + RECORD_OVERHEAD);
  assert.notEqual(hex(ra), hex(rb));
  // Within one connection the counter nonce changes too: the same plaintext twice differs.
  const ra2 = await a.sealer.seal(plaintext.slice());
  assert.notEqual(hex(ra), hex(ra2));
  // And a record of one connection does not open on the other.
  await assert.rejects(b.opener.open(ra), isClosed);
});

test("a sealed record opens to its plaintext, in order, and its bytes hide the plaintext", async () => {
  const { sealer, opener } = await pair();
  const messages = ["first", "", "third message, a bit longer", "x".repeat(100_000)];
  const records = [];
  for (const m of messages) records.push(await sealer.seal(text(m)));
  for (const [i, record] of records.entries()) {
    assert.equal(record.length, text(messages[i]).length + RECORD_OVERHEAD);
    assert.equal(new TextDecoder().decode(await opener.open(record)), messages[i]);
  }
  assert.ok(!containsBytes(records[2], text("third message")), "the plaintext must not show in the record");
});

test("a record with one bit flipped fails to open with CONNECTION_CLOSED", async () => {
  const plaintext = text("[1, d.set, t, k, 5]");
  // Every bit position of a short record: ciphertext and tag alike are covered.
  const probe = await pair();
  const length = (await probe.sealer.seal(plaintext.slice())).length;
  for (let bit = 0; bit < length * 8; bit += 7) {
    const { sealer, opener } = await pair();
    const record = await sealer.seal(plaintext.slice());
    record[bit >> 3] ^= 1 << (bit & 7);
    await assert.rejects(opener.open(record), isClosed, `bit ${bit} flipped must not open`);
  }
  // The control: the same steps without the flip open fine.
  const { sealer, opener } = await pair();
  assert.deepEqual(await opener.open(await sealer.seal(plaintext.slice())), plaintext);
});

test("a record opened twice (replayed) fails the second time", async () => {
  const { sealer, opener } = await pair();
  const record = await sealer.seal(text("increment n"));
  assert.equal(new TextDecoder().decode(await opener.open(record.slice())), "increment n");
  await assert.rejects(opener.open(record.slice()), isClosed);
});

test("records opened out of order fail", async () => {
  const { sealer, opener } = await pair();
  await sealer.seal(text("one"));
  const second = await sealer.seal(text("two"));
  await assert.rejects(opener.open(second), isClosed, "the second record must not open first");

  // Dropping a record is the same: the next one does not open at the dropped one's place.
  const other = await pair();
  await other.sealer.seal(text("dropped"));
  const after = await other.sealer.seal(text("after"));
  await assert.rejects(other.opener.open(after), isClosed);
});

test("a truncated record fails to open, as does an empty one", async () => {
  for (const cut of [1, 8, RECORD_OVERHEAD - 1, RECORD_OVERHEAD]) {
    const { sealer, opener } = await pair();
    const record = await sealer.seal(text("a request that gets cut short"));
    await assert.rejects(opener.open(record.slice(0, record.length - cut)), isClosed, `cut by ${cut}`);
  }
  const { opener } = await pair();
  await assert.rejects(opener.open(new Uint8Array(0)), isClosed);
  // A record with bytes appended fails too.
  const { sealer, opener: o2 } = await pair();
  const record = await sealer.seal(text("whole"));
  const longer = new Uint8Array(record.length + 1);
  longer.set(record);
  await assert.rejects(o2.open(longer), isClosed);
});

test("the password's bytes never appear in any handshake message", async () => {
  const password = "pa55-Wörd-only-in-memory";
  const salt = randomBytes(16);
  const key = await passwordKey(password, salt, ITERATIONS);
  const serverNonce = randomBytes(NONCE_SIZE);
  for (const encrypt of [false, true]) {
    const auth: ServerAuth = { key, salt, iterations: ITERATIONS, encrypt };
    const hello = serverHello(auth, serverNonce);
    const answer = await answerServerHello({ password, encrypt }, hello);
    const welcome = await checkClientHello(auth, serverNonce, answer.hello);
    assert.equal(welcome.error, undefined, "the handshake itself must succeed");
    await checkServerWelcome(answer, serverNonce, welcome);
    const wrong = await checkClientHello(
      auth,
      serverNonce,
      (await answerServerHello({ password: password + "x", encrypt }, hello)).hello,
    );
    assert.equal(wrong.error?.[0], "AUTH_FAILED", "a wrong password must be refused");

    const needles = [
      text(password),
      new TextEncoder().encode(password.normalize("NFD")),
      ...[16, 8].map((n) => text(password).slice(0, n)),
      new Uint8Array([...password].flatMap((c) => [c.charCodeAt(0) & 0xff, c.charCodeAt(0) >> 8])), // UTF-16LE
    ];
    for (const message of [hello, answer.hello, welcome, wrong]) {
      const bytes = encode(message);
      for (const needle of needles) {
        assert.ok(!containsBytes(bytes, needle), `password bytes found in ${JSON.stringify(Object.keys(message))}`);
      }
    }
    // The proof is an HMAC, 32 bytes, and differs for each client nonce.
    assert.equal(answer.hello.proof?.length, 32);
    const again = await answerServerHello({ password, encrypt }, hello);
    assert.notEqual(hex(again.hello.proof!), hex(answer.hello.proof!));
    assert.notEqual(hex(again.hello.nonce), hex(answer.hello.nonce));
  }
});

test("the containsBytes check used above does find bytes that are there", () => {
  // Guards the password test against a search that can never succeed.
  const message = encode({ secret: "pa55-Wörd-only-in-memory" });
  assert.ok(containsBytes(message, text("pa55-Wörd-only-in-memory")));
  assert.ok(!containsBytes(message, text("pa55-Wörd-only-in-memorz")));
});
