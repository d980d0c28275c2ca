/**
 * Random bytes from the platform's CSPRNG (Web Crypto), for salts and
 * handshake nonces.
 *
 * @module
 */

/**
 * Fresh random bytes from the platform's CSPRNG.
 *
 * @param size how many bytes (at most 65,536, Web Crypto's limit per call)
 * @returns the bytes, in a buffer of their own
 * @example
 * ```ts
 * import { randomBytes } from "./random.ts";
 * console.log(randomBytes(16).length); // 16
 * ```
 */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(size));
}
