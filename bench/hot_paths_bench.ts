/**
 * Microbenchmarks of the hot paths, no server needed: `deno task bench`.
 *
 * @module
 */
import { passwordKey } from "../src/crypto/handshake.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { deriveSessionSecrets, RecordOpener, RecordSealer } from "../src/crypto/record.ts";
import { decode, encode } from "../src/protocol/codec.ts";
import { FrameBatch, FrameDecoder } from "../src/protocol/frame.ts";
import { CompactMap } from "../src/store/compact_map.ts";
import { KeyBytes } from "../src/store/dict_key.ts";
import { Store } from "../src/store/store.ts";

const request = encode([42, "d.get", "centre", "content"]);
const batch = new FrameBatch();
for (let i = 0; i < 100; i++) batch.add(request);
const hundredFrames = batch.take();

Deno.bench("encode a get request", { group: "codec" }, () => {
  encode([42, "d.get", "centre", "content"]);
});

Deno.bench("decode a get request", { group: "codec" }, () => {
  decode(request);
});

Deno.bench("join 100 frames into one write", { group: "frames" }, () => {
  const b = new FrameBatch();
  for (let i = 0; i < 100; i++) b.add(request);
  b.take();
});

Deno.bench("cut one read into 100 frames", { group: "frames" }, () => {
  const decoder = new FrameDecoder();
  decoder.push(hundredFrames);
  while (decoder.next()) { /* count */ }
});

const store = new Store();
store.apply("create", "centre", ["CyberDict"]);
store.apply("d.set", "centre", ["content", "Hello CyberDB!"]);

Deno.bench("dispatch d.get to the store", { group: "dispatch" }, () => {
  store.apply("d.get", "centre", ["content"]);
});

Deno.bench("decode, dispatch and encode one request", { group: "dispatch" }, () => {
  const r = decode(request) as unknown[];
  encode([r[0], 0, store.apply(r[1], r[2], r.slice(3))]);
});

const dictKey = new KeyBytes();
dictKey.encode("user:12345678:profile");

Deno.bench("hash a 21-byte dict key (SipHash-1-3)", { group: "dict keys" }, () => {
  dictKey.hash();
});

const mapKeys = Array.from({ length: 1000 }, (_, i) => `user:${i * 7919}:profile`);
const mapValue = new Uint8Array(32);
const fullMap = new CompactMap();
for (const k of mapKeys) fullMap.set(k, mapValue);

Deno.bench("CompactMap: set 1000 new keys", { group: "dict keys" }, () => {
  const map = new CompactMap();
  for (const k of mapKeys) map.set(k, mapValue);
});

Deno.bench("CompactMap: get 1000 keys", { group: "dict keys" }, () => {
  for (const k of mapKeys) fullMap.get(k);
});

const key = await passwordKey("bench", randomBytes(16), 1000);
const secrets = await deriveSessionSecrets(key.hkdf, randomBytes(32), randomBytes(32));
const small = new Uint8Array(request.length + 4);
for (const webCrypto of [false, true]) {
  const sealer = await RecordSealer.create(secrets.clientToServer, { webCrypto });
  const opener = await RecordOpener.create(secrets.clientToServer, { webCrypto });
  const cipher = webCrypto ? "Web Crypto" : "node:crypto";

  Deno.bench(`seal and open a one-request record (${cipher})`, { group: "records" }, async () => {
    await opener.open(await sealer.seal(small));
  });

  Deno.bench(`seal and open a 100-request record (${cipher})`, { group: "records" }, async () => {
    await opener.open(await sealer.seal(hundredFrames));
  });
}
