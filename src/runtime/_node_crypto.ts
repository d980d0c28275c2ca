/**
 * Synchronous AES-256-GCM over `node:crypto`, which Deno and Node both
 * provide. Fetched with `process.getBuiltinModule` on first use, like the
 * other Node modules; where it is missing, {@link aesGcm} returns
 * `undefined` and records fall back to Web Crypto.
 *
 * @module
 */
import type * as Crypto from "node:crypto";
import type { AesGcm } from "./interface.ts";

/** Bytes of the GCM authentication tag. */
const TAG_SIZE = 16;

interface CryptoProcess {
  getBuiltinModule?(id: "node:crypto"): typeof Crypto | undefined;
}

let loaded: AesGcm | null | undefined;

/** The runtime's synchronous AES-256-GCM, or `undefined` where `node:crypto` is missing. */
export function aesGcm(): AesGcm | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

function load(): AesGcm | null {
  const process = (globalThis as { process?: CryptoProcess }).process;
  let crypto: typeof Crypto | undefined;
  try {
    crypto = process?.getBuiltinModule?.("node:crypto");
  } catch {
    crypto = undefined;
  }
  if (crypto === undefined || !crypto.getCiphers().includes("aes-256-gcm")) return null;
  const { createCipheriv, createDecipheriv } = crypto;
  return {
    seal(key, iv, plaintext) {
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = cipher.update(plaintext);
      const tail = cipher.final();
      const out = new Uint8Array(body.length + tail.length + TAG_SIZE);
      out.set(body);
      out.set(tail, body.length);
      out.set(cipher.getAuthTag(), body.length + tail.length);
      return out;
    },
    open(key, iv, record) {
      if (record.length < TAG_SIZE) return null;
      const end = record.length - TAG_SIZE;
      let body: Uint8Array, tail: Uint8Array;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv);
        decipher.setAuthTag(record.subarray(end));
        body = decipher.update(record.subarray(0, end));
        tail = decipher.final(); // throws when the tag does not match
      } catch {
        return null;
      }
      // A plain view, never a Buffer (the codec must not see one).
      if (tail.length === 0) return new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength);
      const out = new Uint8Array(body.length + tail.length);
      out.set(body);
      out.set(tail, body.length);
      return out;
    },
  };
}
