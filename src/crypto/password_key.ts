/**
 * The password key: PBKDF2-HMAC-SHA-256 of the password and the server's
 * salt, derived once per (password, salt, iterations) and kept in a small
 * bounded cache, since PBKDF2 is slow on purpose and a pool opens many
 * connections. A fake server can make a client derive under salts of its
 * choosing, so the cache holds at most {@link KEY_CACHE_SIZE} keys (the
 * least recently used goes first) and the iterations a client accepts are
 * bounded on both sides. Pure code over Web Crypto, no I/O.
 *
 * @module
 */

/** PBKDF2 iterations a server derives its password key with (OWASP's figure for PBKDF2-HMAC-SHA256). */
export const PASSWORD_ITERATIONS = 600_000;

/**
 * Fewest PBKDF2 iterations a client accepts from a server's hello, unless told
 * otherwise (`minIterations` of `connect()`): the hello is not authenticated,
 * and a proof made with few iterations would be cheap to guess passwords against.
 */
export const MIN_ITERATIONS = 100_000;

/**
 * Most PBKDF2 iterations a client accepts from a server's hello: a fake server
 * could otherwise make `connect()` burn CPU for seconds.
 */
export const MAX_ITERATIONS = 2_000_000;

/** Password keys a process keeps derived at once. */
export const KEY_CACHE_SIZE = 16;

/** Bytes in a handshake nonce. */
export const NONCE_SIZE = 32;

const encoder = new TextEncoder();

/** Keys derived once from the password and a salt. */
export interface PasswordKey {
  /** HKDF base key that every per-connection key (proofs, records) is derived from. */
  hkdf: CryptoKey;
}

const derived = new Map<string, Promise<PasswordKey>>();

/**
 * Derives the password key, or returns the one derived before for the same
 * (password, salt, iterations); at most {@link KEY_CACHE_SIZE} are kept.
 *
 * @param password the password
 * @param salt the server's salt
 * @param iterations PBKDF2 iterations
 * @returns the key
 * @throws {DOMException} when Web Crypto refuses the parameters (e.g. 0 iterations)
 * @example
 * ```ts
 * import { passwordKey } from "./password_key.ts";
 * import { randomBytes } from "./random.ts";
 * const key = await passwordKey("pw", randomBytes(16), 1_000);
 * console.assert(key.hkdf.algorithm.name === "HKDF");
 * ```
 */
export function passwordKey(password: string, salt: Uint8Array, iterations: number): Promise<PasswordKey> {
  const id = `${iterations}:${Array.from(salt).join(",")}:${password}`;
  let key = derived.get(id);
  if (key !== undefined) {
    derived.delete(id); // re-inserted below: the Map's order is the order of last use
  } else {
    key = derive(password, salt, iterations);
    key.catch(() => {
      if (derived.get(id) === key) derived.delete(id);
    });
  }
  derived.set(id, key);
  while (derived.size > KEY_CACHE_SIZE) derived.delete(derived.keys().next().value!);
  return key;
}

/**
 * How many password keys the cache holds now.
 *
 * @returns the count, at most {@link KEY_CACHE_SIZE}
 * @example
 * ```ts
 * import { cachedPasswordKeys, KEY_CACHE_SIZE } from "./password_key.ts";
 * console.assert(cachedPasswordKeys() <= KEY_CACHE_SIZE);
 * ```
 */
export function cachedPasswordKeys(): number {
  return derived.size;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<PasswordKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations },
    base,
    256,
  );
  return { hkdf: await crypto.subtle.importKey("raw", bits, "HKDF", false, ["deriveKey", "deriveBits"]) };
}
