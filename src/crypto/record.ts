/**
 * Encrypted records: AES-256-GCM with one key per direction, derived per
 * connection with HKDF-SHA-256 from the password key and both handshake
 * nonces. The 96-bit nonce is a per-direction record counter that is never
 * sent and never reused under a key, so a record replayed, reordered,
 * dropped or tampered with fails to authenticate. Pure code over Web Crypto.
 *
 * @module
 */
import { ConnectionClosedError } from "../errors.ts";

/** Bytes GCM adds to each record (the authentication tag). */
export const RECORD_OVERHEAD = 16;

/**
 * Records sealed under one key before the connection must be closed: far
 * below the 2^64 the counter could count, and below NIST's 2^32 invocations.
 */
export const MAX_RECORDS = 2 ** 32 - 1;

const encoder = new TextEncoder();
const CLIENT_TO_SERVER = encoder.encode("cyberdb client-to-server key v1");
const SERVER_TO_CLIENT = encoder.encode("cyberdb server-to-client key v1");

/** The raw key bytes of one connection, one key per direction. */
export interface SessionSecrets {
  /** Key for records the client sends. */
  clientToServer: Uint8Array<ArrayBuffer>;
  /** Key for records the server sends. */
  serverToClient: Uint8Array<ArrayBuffer>;
}

/**
 * Derives the two 256-bit session keys of one connection.
 *
 * @param hkdf the HKDF key made from the password key
 * @param serverNonce the server's handshake nonce
 * @param clientNonce the client's handshake nonce
 */
export async function deriveSessionSecrets(
  hkdf: CryptoKey,
  serverNonce: Uint8Array,
  clientNonce: Uint8Array,
): Promise<SessionSecrets> {
  const salt = new Uint8Array(serverNonce.length + clientNonce.length);
  salt.set(serverNonce);
  salt.set(clientNonce, serverNonce.length);
  const derive = async (info: Uint8Array<ArrayBuffer>) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt, info },
        hkdf,
        256,
      ),
    );
  const [clientToServer, serverToClient] = await Promise.all([
    derive(CLIENT_TO_SERVER),
    derive(SERVER_TO_CLIENT),
  ]);
  return { clientToServer, serverToClient };
}

/** Seals records in one direction. */
export class RecordSealer {
  #key: CryptoKey;
  #counter = 0;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Imports a raw 256-bit key for sealing. */
  static async create(secret: Uint8Array<ArrayBuffer>): Promise<RecordSealer> {
    return new RecordSealer(
      await crypto.subtle.importKey("raw", secret, "AES-GCM", false, [
        "encrypt",
      ]),
    );
  }

  /**
   * Encrypts and authenticates one record. Calls must not overlap: the
   * counter orders them.
   *
   * @throws {ConnectionClosedError} once {@link MAX_RECORDS} records were sealed
   */
  async seal(
    plaintext: Uint8Array<ArrayBuffer>,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const iv = nonce(this.#counter++);
    return new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv },
        this.#key,
        plaintext,
      ),
    );
  }
}

/** Opens records in one direction. */
export class RecordOpener {
  #key: CryptoKey;
  #counter = 0;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Imports a raw 256-bit key for opening. */
  static async create(secret: Uint8Array<ArrayBuffer>): Promise<RecordOpener> {
    return new RecordOpener(
      await crypto.subtle.importKey("raw", secret, "AES-GCM", false, [
        "decrypt",
      ]),
    );
  }

  /**
   * Decrypts and authenticates the next record.
   *
   * @throws {ConnectionClosedError} when it fails to authenticate (tampered, replayed, reordered or truncated)
   */
  async open(
    record: Uint8Array<ArrayBuffer>,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const iv = nonce(this.#counter++);
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt({ name: "AES-GCM", iv }, this.#key, record),
      );
    } catch {
      throw new ConnectionClosedError(
        "a record failed to authenticate; the connection was closed",
      );
    }
  }
}

function nonce(counter: number): Uint8Array<ArrayBuffer> {
  if (counter >= MAX_RECORDS) {
    throw new ConnectionClosedError(
      "this connection sealed its limit of records; reconnect for fresh keys",
    );
  }
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, counter);
  return iv;
}
