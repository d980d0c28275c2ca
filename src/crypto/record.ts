/**
 * Encrypted records: AES-256-GCM with one key per direction, derived per
 * connection with HKDF-SHA-256 from the password key and both handshake
 * nonces. The 96-bit nonce is a per-direction record counter that is never
 * sent and never reused under a key, so a record replayed, reordered,
 * dropped or tampered with fails to authenticate.
 *
 * Records are sealed and opened with the runtime's synchronous AES-256-GCM
 * (`node:crypto`, in Deno and Node alike) where it has one: a Web Crypto call
 * costs ~12 µs of CPU and ~36 µs of latency per record. Web Crypto stays for
 * key derivation and as the fallback, forced with `webCrypto: true` or
 * `CYBERDB_WEBCRYPTO=1`. Both give the same bytes, so either side may use
 * either; the wire format is one.
 *
 * @module
 */
import { ConnectionClosedError } from "../errors.ts";
import type { Opener, Sealer } from "../protocol/channel.ts";
import { type AesGcm, runtime } from "../runtime/mod.ts";

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

/** How records are sealed and opened. */
export interface RecordOptions {
  /**
   * Use Web Crypto even where the runtime has a synchronous AES-256-GCM. Slower (one thread hop
   * per record); the bytes are the same. Default `false`, or `true` when `CYBERDB_WEBCRYPTO=1`.
   */
  webCrypto?: boolean;
}

let forcedByEnv: boolean | undefined;

/** The synchronous cipher to use under `options`, or `undefined` for Web Crypto. */
function syncCipher(options: RecordOptions): AesGcm | undefined {
  forcedByEnv ??= runtime.env("CYBERDB_WEBCRYPTO") === "1";
  return (options.webCrypto ?? forcedByEnv) ? undefined : runtime.aesGcm();
}

/** A record sealed or opened: at once with the runtime's cipher, later with Web Crypto. */
export type RecordBytes = Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer>>;

/** Seals records in one direction (a channel's `Sealer`). */
export class RecordSealer implements Sealer {
  #key: CryptoKey | Uint8Array<ArrayBuffer>;
  #aes: AesGcm | undefined;
  #counter = 0;

  /** Whether {@link RecordSealer.seal} returns the record itself rather than a promise. */
  readonly synchronous: boolean;

  private constructor(key: CryptoKey | Uint8Array<ArrayBuffer>, aes: AesGcm | undefined) {
    this.#key = key;
    this.#aes = aes;
    this.synchronous = aes !== undefined;
  }

  /**
   * Prepares a raw 256-bit key for sealing.
   *
   * @param secret the 32-byte key of this direction
   * @param options which cipher to use
   * @returns the sealer, its counter at 0
   * @example
   * ```ts
   * import { RecordSealer } from "./record.ts";
   * const sealer = await RecordSealer.create(crypto.getRandomValues(new Uint8Array(32)));
   * const record = await sealer.seal(new TextEncoder().encode("hello"));
   * console.assert(record.length === 5 + 16);
   * ```
   */
  static async create(secret: Uint8Array<ArrayBuffer>, options: RecordOptions = {}): Promise<RecordSealer> {
    const aes = syncCipher(options);
    if (aes !== undefined) return new RecordSealer(secret.slice(), aes);
    return new RecordSealer(await crypto.subtle.importKey("raw", secret, "AES-GCM", false, ["encrypt"]), undefined);
  }

  /**
   * Encrypts and authenticates one record. Each call takes the next nonce when it is made, so
   * records come out in call order even when the Web Crypto promises settle later.
   *
   * @param plaintext the bytes to seal
   * @returns the record (ciphertext and tag), or a promise of it when Web Crypto is used
   * @throws {ConnectionClosedError} once {@link MAX_RECORDS} records were sealed
   */
  seal(plaintext: Uint8Array<ArrayBuffer>): RecordBytes {
    const iv = nonce(this.#counter++);
    if (this.#aes !== undefined) return this.#aes.seal(this.#key as Uint8Array, iv, plaintext);
    return crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.#key as CryptoKey, plaintext)
      .then((sealed) => new Uint8Array(sealed));
  }
}

/** Opens records in one direction (a channel's `Opener`). */
export class RecordOpener implements Opener {
  #key: CryptoKey | Uint8Array<ArrayBuffer>;
  #aes: AesGcm | undefined;
  #counter = 0;

  /** Whether {@link RecordOpener.open} returns the plaintext itself rather than a promise. */
  readonly synchronous: boolean;
  /** Bytes a record has beyond its plaintext: {@link RECORD_OVERHEAD}. */
  readonly overhead: number = RECORD_OVERHEAD;

  private constructor(key: CryptoKey | Uint8Array<ArrayBuffer>, aes: AesGcm | undefined) {
    this.#key = key;
    this.#aes = aes;
    this.synchronous = aes !== undefined;
  }

  /**
   * Prepares a raw 256-bit key for opening.
   *
   * @param secret the 32-byte key of this direction
   * @param options which cipher to use
   * @returns the opener, its counter at 0
   * @example
   * ```ts
   * import { RecordOpener, RecordSealer } from "./record.ts";
   * const secret = crypto.getRandomValues(new Uint8Array(32));
   * const sealer = await RecordSealer.create(secret);
   * const opener = await RecordOpener.create(secret, { webCrypto: true });
   * const plaintext = await opener.open(await sealer.seal(new TextEncoder().encode("hello")));
   * console.assert(new TextDecoder().decode(plaintext) === "hello");
   * ```
   */
  static async create(secret: Uint8Array<ArrayBuffer>, options: RecordOptions = {}): Promise<RecordOpener> {
    const aes = syncCipher(options);
    if (aes !== undefined) return new RecordOpener(secret.slice(), aes);
    return new RecordOpener(await crypto.subtle.importKey("raw", secret, "AES-GCM", false, ["decrypt"]), undefined);
  }

  /**
   * Decrypts and authenticates the next record. Each call takes the next nonce when it is made.
   *
   * @param record the record as read from the wire
   * @returns the plaintext, or a promise of it when Web Crypto is used
   * @throws {ConnectionClosedError} when it fails to authenticate (tampered, replayed, reordered or
   *   truncated): thrown at once by the runtime's cipher, as a rejection by Web Crypto
   */
  open(record: Uint8Array<ArrayBuffer>): RecordBytes {
    const iv = nonce(this.#counter++);
    if (this.#aes !== undefined) {
      const plaintext = this.#aes.open(this.#key as Uint8Array, iv, record);
      if (plaintext === null) throw notAuthentic();
      return plaintext;
    }
    return crypto.subtle.decrypt({ name: "AES-GCM", iv }, this.#key as CryptoKey, record).then(
      (plaintext) => new Uint8Array(plaintext),
      () => Promise.reject(notAuthentic()),
    );
  }
}

function notAuthentic(): ConnectionClosedError {
  return new ConnectionClosedError("a record failed to authenticate; the connection was closed");
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
