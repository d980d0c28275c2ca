/**
 * What one handshake derives: an ephemeral X25519 exchange (a fresh key pair
 * on each side for each connection, thrown away after it), a hash of the
 * transcript (every byte both sides sent in their hellos), and from the
 * password key, the shared secret and that hash, three keys: one for the
 * server's proof, one for the client's, and one for the records. Someone who
 * learns the password later cannot derive the keys of a recorded session
 * (forward secrecy), and a proof made for one transcript checks for no other.
 * Pure code over Web Crypto (X25519 is in Deno and in Node 20), no I/O.
 *
 * @module
 */
import type { PasswordKey } from "./password_key.ts";

/** Bytes in an X25519 public key. */
export const PUBLIC_KEY_SIZE = 32;

const encoder = new TextEncoder();
const TRANSCRIPT_LABEL = encoder.encode("cyberdb handshake v2");
const CONNECTION_KEYS = encoder.encode("cyberdb connection keys v2");

/** One side's ephemeral X25519 key pair. */
export interface EphemeralKey {
  /** The private half; never leaves the process. */
  privateKey: CryptoKey;
  /** The public half, as sent in the hello. */
  publicKey: Uint8Array<ArrayBuffer>;
}

/** The keys one handshake derives. */
export interface ConnectionKeys {
  /** HMAC key of the server's proof. */
  serverProof: CryptoKey;
  /** HMAC key of the client's proof. */
  clientProof: CryptoKey;
  /** HKDF key the record keys of both directions are derived from. */
  records: CryptoKey;
}

/**
 * Makes a fresh X25519 key pair.
 *
 * @returns the pair, its public half as raw bytes
 * @example
 * ```ts
 * import { ephemeralKey } from "./key_exchange.ts";
 * console.assert((await ephemeralKey()).publicKey.length === 32);
 * ```
 */
export async function ephemeralKey(): Promise<EphemeralKey> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]) as {
    privateKey: CryptoKey;
    publicKey: CryptoKey;
  };
  return {
    privateKey: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  };
}

/**
 * The X25519 shared secret of our private key and the peer's public key.
 *
 * @param own our ephemeral key
 * @param peer the peer's public key, raw
 * @returns 32 bytes both sides compute alike
 * @throws {DOMException} for a malformed or low-order public key
 * @example
 * ```ts
 * import { ephemeralKey, sharedSecret } from "./key_exchange.ts";
 * const [a, b] = [await ephemeralKey(), await ephemeralKey()];
 * console.assert(String(await sharedSecret(a, b.publicKey)) === String(await sharedSecret(b, a.publicKey)));
 * ```
 */
export async function sharedSecret(own: EphemeralKey, peer: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(peer), { name: "X25519" }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: key }, own.privateKey, 256));
}

/**
 * SHA-256 of the handshake's messages as sent, each prefixed with its length.
 *
 * @param messages the encoded server hello, then the encoded client hello
 * @returns 32 bytes
 * @example
 * ```ts
 * import { transcriptHash } from "./key_exchange.ts";
 * console.assert((await transcriptHash([new Uint8Array([1])])).length === 32);
 * ```
 */
export async function transcriptHash(messages: readonly Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  const size = messages.reduce((n, m) => n + 4 + m.length, TRANSCRIPT_LABEL.length);
  const out = new Uint8Array(size);
  out.set(TRANSCRIPT_LABEL);
  let at = TRANSCRIPT_LABEL.length;
  for (const message of messages) {
    new DataView(out.buffer).setUint32(at, message.length);
    out.set(message, at + 4);
    at += 4 + message.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", out));
}

/**
 * Derives a connection's keys from the password key, the X25519 shared secret
 * and the transcript hash (HKDF-SHA-256: the shared secret as salt, the label
 * and the hash as info; 96 bytes cut into the three keys).
 *
 * @param password the password key
 * @param secret the X25519 shared secret
 * @param transcript the transcript hash
 * @returns the proof keys and the record key
 * @example
 * ```ts
 * import { connectionKeys } from "./key_exchange.ts";
 * import { passwordKey } from "./password_key.ts";
 * import { randomBytes } from "./random.ts";
 * const keys = await connectionKeys(await passwordKey("pw", randomBytes(16), 1_000), randomBytes(32), randomBytes(32));
 * console.assert(keys.records.algorithm.name === "HKDF");
 * ```
 */
export async function connectionKeys(
  password: PasswordKey,
  secret: Uint8Array,
  transcript: Uint8Array,
): Promise<ConnectionKeys> {
  // One HKDF call gives all three keys (96 bytes), cut in order: server proof, client proof, records.
  const info = new Uint8Array(CONNECTION_KEYS.length + transcript.length);
  info.set(CONNECTION_KEYS);
  info.set(transcript, CONNECTION_KEYS.length);
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(secret), info },
      password.hkdf,
      3 * 256,
    ),
  );
  const hmac = (at: number) =>
    crypto.subtle.importKey("raw", bits.slice(at, at + 32), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
  const [serverProof, clientProof, records] = await Promise.all([
    hmac(0),
    hmac(32),
    crypto.subtle.importKey("raw", bits.slice(64, 96), "HKDF", false, ["deriveBits"]),
  ]);
  bits.fill(0);
  return { serverProof, clientProof, records };
}
