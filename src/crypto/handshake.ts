/**
 * Challenge–response authentication. The password never crosses the wire:
 * the server sends a random nonce, the client answers with an HMAC-SHA-256
 * proof under a key derived from the password with PBKDF2, the server checks
 * it in constant time and proves itself back with its own HMAC. Pure code
 * over Web Crypto, no I/O.
 *
 * @module
 */
import { randomBytes } from "./random.ts";
import {
  AuthenticationError,
  BadRequestError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  errorFromCode,
} from "../errors.ts";
import { type ClientHello, PROTOCOL_VERSION, type ServerHello, type ServerWelcome } from "../protocol/messages.ts";

/** PBKDF2 iterations for the password key (OWASP's figure for PBKDF2-HMAC-SHA256). */
export const PASSWORD_ITERATIONS = 600_000;

/**
 * Most PBKDF2 iterations a client accepts from a server's hello: the hello is
 * not authenticated, so a fake server could otherwise make `connect()` burn
 * CPU for seconds.
 */
export const MAX_ITERATIONS = 2_000_000;

/** Bytes in a handshake nonce and a salt. */
export const NONCE_SIZE = 32;

const encoder = new TextEncoder();
const CLIENT_LABEL = encoder.encode("cyberdb client proof v1");
const SERVER_LABEL = encoder.encode("cyberdb server proof v1");

/** Keys derived once from the password and a salt. */
export interface PasswordKey {
  /** HMAC-SHA-256 key for the handshake proofs. */
  hmac: CryptoKey;
  /** HKDF base key for per-connection session keys. */
  hkdf: CryptoKey;
}

const derived = new Map<string, Promise<PasswordKey>>();

/**
 * Derives the password key, once per process for each (password, salt,
 * iterations): PBKDF2 is slow on purpose, and a pool opens many connections.
 */
export function passwordKey(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<PasswordKey> {
  const id = `${iterations}:${Array.from(salt).join(",")}:${password}`;
  let key = derived.get(id);
  if (key === undefined) {
    key = derive(password, salt, iterations);
    derived.set(id, key);
    key.catch(() => derived.delete(id));
  }
  return key;
}

async function derive(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<PasswordKey> {
  const base = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations },
    base,
    256,
  );
  const [hmac, hkdf] = await Promise.all([
    crypto.subtle.importKey(
      "raw",
      bits,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    ),
    crypto.subtle.importKey("raw", bits, "HKDF", false, [
      "deriveKey",
      "deriveBits",
    ]),
  ]);
  return { hmac, hkdf };
}

function transcript(
  label: Uint8Array,
  serverNonce: Uint8Array,
  clientNonce: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(
    label.length + serverNonce.length + clientNonce.length,
  );
  out.set(label);
  out.set(serverNonce, label.length);
  out.set(clientNonce, label.length + serverNonce.length);
  return out;
}

async function sign(
  key: CryptoKey,
  label: Uint8Array,
  serverNonce: Uint8Array,
  clientNonce: Uint8Array,
) {
  return new Uint8Array(
    await crypto.subtle.sign(
      "HMAC",
      key,
      transcript(label, serverNonce, clientNonce),
    ),
  );
}

function verify(
  key: CryptoKey,
  label: Uint8Array,
  proof: Uint8Array,
  serverNonce: Uint8Array,
  clientNonce: Uint8Array,
): Promise<boolean> {
  // subtle.verify compares in constant time.
  return crypto.subtle.verify(
    "HMAC",
    key,
    new Uint8Array(proof),
    transcript(label, serverNonce, clientNonce),
  );
}

/** What the server knows for the handshake. */
export interface ServerAuth {
  /** The password key, or `undefined` when auth is off. */
  key?: PasswordKey;
  /** The salt the key was derived with. */
  salt: Uint8Array;
  /** The iterations the key was derived with. */
  iterations: number;
  /** Whether encryption is offered and required. */
  encrypt: boolean;
}

/** Builds the server's first frame for a new connection. */
export function serverHello(auth: ServerAuth, nonce: Uint8Array): ServerHello {
  const hello: ServerHello = {
    cyberdb: PROTOCOL_VERSION,
    auth: auth.key !== undefined,
    encrypt: auth.encrypt,
    nonce,
  };
  if (auth.key) {
    Object.assign(hello, { salt: auth.salt, iterations: auth.iterations });
  }
  return hello;
}

function isBytes(value: unknown, size: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === size;
}

/**
 * Checks the client's answer on the server.
 *
 * @returns the welcome to send back, with `error` set when the client is refused
 */
export async function checkClientHello(
  auth: ServerAuth,
  serverNonce: Uint8Array,
  message: unknown,
): Promise<ServerWelcome> {
  const hello = message as Partial<ClientHello> | null;
  if (
    typeof hello !== "object" || hello === null ||
    !isBytes(hello.nonce, NONCE_SIZE) ||
    typeof hello.encrypt !== "boolean" ||
    (hello.proof !== undefined && !isBytes(hello.proof, 32))
  ) {
    return {
      error: [
        "BAD_REQUEST",
        "the first frame must be a cyberdb handshake; is this a cyberdb client?",
      ],
    };
  }
  if (auth.encrypt && !hello.encrypt) {
    return {
      error: [
        "ENCRYPTION_REQUIRED",
        "this server requires encryption; pass encrypt: true to connect()",
      ],
    };
  }
  if (!auth.encrypt && hello.encrypt) {
    return {
      error: [
        "ENCRYPTION_UNAVAILABLE",
        "this server does not offer encryption; start it with --encrypt",
      ],
    };
  }
  if (auth.key === undefined) return {};
  if (hello.proof === undefined) {
    return {
      error: [
        "AUTH_FAILED",
        "this server requires a password; pass password to connect()",
      ],
    };
  }
  if (
    !await verify(
      auth.key.hmac,
      CLIENT_LABEL,
      hello.proof,
      serverNonce,
      hello.nonce,
    )
  ) {
    return { error: ["AUTH_FAILED", "wrong password"] };
  }
  return {
    proof: await sign(auth.key.hmac, SERVER_LABEL, serverNonce, hello.nonce),
  };
}

/** What the client brings to the handshake. */
export interface ClientAuth {
  /** The password, if any. */
  password?: string;
  /** Whether to insist on encryption. */
  encrypt: boolean;
}

/** The client's state between its answer and the server's welcome. */
export interface ClientHandshake {
  /** The frame to send. */
  hello: ClientHello;
  /** The password key used, when the server asked for auth. */
  key?: PasswordKey;
}

/**
 * Answers the server's hello on the client.
 *
 * @throws {AuthenticationError} for a password mismatch in configuration
 * @throws {EncryptionUnavailableError} when the client wants encryption and the server offers none
 * @throws {BadRequestError} when the peer is not a cyberdb server of this protocol version
 */
export async function answerServerHello(
  client: ClientAuth,
  message: unknown,
): Promise<ClientHandshake> {
  const hello = message as Partial<ServerHello> | null;
  if (typeof hello !== "object" || hello === null) {
    throw new BadRequestError("the peer is not a cyberdb server");
  }
  const refusal = (hello as ServerWelcome).error;
  if (Array.isArray(refusal)) {
    throw errorFromCode(String(refusal[0]), String(refusal[1]));
  }
  if (typeof hello.cyberdb !== "number") {
    throw new BadRequestError("the peer is not a cyberdb server");
  }
  if (hello.cyberdb !== PROTOCOL_VERSION) {
    throw new BadRequestError(
      `the server speaks protocol ${hello.cyberdb}, this client ${PROTOCOL_VERSION}; upgrade`,
    );
  }
  if (!isBytes(hello.nonce, NONCE_SIZE)) {
    throw new BadRequestError("malformed server hello");
  }
  if (client.encrypt && !hello.encrypt) {
    throw new EncryptionUnavailableError(
      "the server does not offer encryption; start it with --encrypt, or connect without encrypt",
    );
  }
  if (!client.encrypt && hello.encrypt) {
    throw new EncryptionRequiredError(
      "this server requires encryption; pass encrypt: true to connect()",
    );
  }
  const nonce = randomBytes(NONCE_SIZE);
  if (!hello.auth) {
    if (client.password !== undefined) {
      throw new AuthenticationError(
        "the server has no password, but a password was given; start the server with --password, or connect without one",
      );
    }
    return { hello: { nonce, encrypt: client.encrypt } };
  }
  if (client.password === undefined) {
    throw new AuthenticationError(
      "this server requires a password; pass password to connect()",
    );
  }
  const { salt, iterations } = hello;
  if (
    !(salt instanceof Uint8Array) || typeof iterations !== "number" ||
    iterations < 1 || iterations > MAX_ITERATIONS
  ) {
    throw new BadRequestError("malformed server hello");
  }
  const key = await passwordKey(client.password, salt, iterations);
  const proof = await sign(key.hmac, CLIENT_LABEL, hello.nonce, nonce);
  return { hello: { nonce, proof, encrypt: client.encrypt }, key };
}

/**
 * Checks the server's welcome on the client: no error, and a valid server proof when auth is on.
 *
 * @throws {CyberDBError} the server's error, or `AUTH_FAILED` when the server cannot prove it knows the password
 */
export async function checkServerWelcome(
  handshake: ClientHandshake,
  serverNonce: Uint8Array,
  message: unknown,
): Promise<void> {
  const welcome = message as ServerWelcome | null;
  if (typeof welcome !== "object" || welcome === null) {
    throw new BadRequestError("malformed server welcome");
  }
  if (Array.isArray(welcome.error)) {
    throw errorFromCode(String(welcome.error[0]), String(welcome.error[1]));
  }
  if (handshake.key === undefined) return;
  if (
    !(welcome.proof instanceof Uint8Array) ||
    !await verify(
      handshake.key.hmac,
      SERVER_LABEL,
      welcome.proof,
      serverNonce,
      handshake.hello.nonce,
    )
  ) {
    throw new AuthenticationError(
      "the server could not prove it knows the password; is it the server you meant?",
    );
  }
}
