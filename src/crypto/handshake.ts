/**
 * Challenge–response authentication with forward secrecy, in which the
 * server proves itself first. The password never crosses the wire, and the
 * client sends nothing derived from it until the server has shown that it
 * knows it:
 *
 * 1. server → client: hello (version, auth, encrypt, nonce, salt, iterations, X25519 public key)
 * 2. client → server: hello (nonce, encrypt, X25519 public key)
 * 3. server → client: the server's proof, an HMAC of the transcript hash
 * 4. client → server: the client's proof, once the server's checks out
 * 5. server → client: welcome, or the reason for refusing
 *
 * The transcript hash covers both hellos byte for byte, and the proof and
 * record keys are derived from the password key, the X25519 shared secret and
 * that hash (`key_exchange.ts`). Without auth, steps 3 and 4 are skipped.
 *
 * What this does not stop: anyone who records a handshake (or connects and
 * collects a server's proof) can guess passwords offline, at one PBKDF2 of
 * the server's iterations per guess. A strong password is the answer.
 *
 * @module
 */
import {
  AuthenticationError,
  BadRequestError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  errorFromCode,
} from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";
import {
  type ClientHello,
  type ClientProof,
  PROTOCOL_VERSION,
  type ServerHello,
  type ServerProof,
  type ServerWelcome,
} from "../protocol/messages.ts";
import {
  type ConnectionKeys,
  connectionKeys,
  type EphemeralKey,
  ephemeralKey,
  PUBLIC_KEY_SIZE,
  sharedSecret,
  transcriptHash,
} from "./key_exchange.ts";
import { MAX_ITERATIONS, MIN_ITERATIONS, NONCE_SIZE, type PasswordKey, passwordKey } from "./password_key.ts";
import { randomBytes } from "./random.ts";
import { deriveSessionSecrets, type SessionSecrets } from "./record.ts";

export { MIN_ITERATIONS, NONCE_SIZE, PASSWORD_ITERATIONS, passwordKey } from "./password_key.ts";

/** Bytes of a handshake proof (HMAC-SHA-256). */
export const PROOF_SIZE = 32;

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

/** What the client brings to the handshake. */
export interface ClientAuth {
  /** The password, if any. */
  password?: string;
  /** Whether to insist on encryption. */
  encrypt: boolean;
  /** Fewest PBKDF2 iterations accepted from the server. Default {@link MIN_ITERATIONS}. */
  minIterations?: number;
}

/** One step of a handshake: what to send next, and whether the handshake is over. */
export interface HandshakeStep {
  /** The encoded message to send now, if any. */
  send?: Uint8Array;
  /** `true` once authenticated; `false` while more messages are to come. */
  done: boolean;
  /** On the server: the reason the client was refused (the handshake is then over, and failed). */
  refused?: string;
  /** Once done with encryption on: the record keys of both directions. */
  secrets?: SessionSecrets;
}

function isBytes(value: unknown, size: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === size;
}

function decodeMessage(frame: Uint8Array): Record<string, unknown> | undefined {
  try {
    const message = decode(frame);
    return typeof message === "object" && message !== null && !Array.isArray(message)
      ? message as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

async function proof(key: CryptoKey, transcript: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, transcript));
}

function verify(key: CryptoKey, transcript: Uint8Array<ArrayBuffer>, value: unknown): Promise<boolean> {
  if (!isBytes(value, PROOF_SIZE)) return Promise.resolve(false);
  return crypto.subtle.verify("HMAC", key, new Uint8Array(value), transcript); // constant time
}

/**
 * The server's side of one connection's handshake.
 *
 * @example
 * ```ts
 * import { ClientHandshake, passwordKey, ServerHandshake } from "./handshake.ts";
 * import { randomBytes } from "./random.ts";
 * const salt = randomBytes(16);
 * const auth = { key: await passwordKey("pw", salt, 1_000), salt, iterations: 1_000, encrypt: true };
 * const server = await ServerHandshake.create(auth);
 * const client = new ClientHandshake({ password: "pw", encrypt: true, minIterations: 1_000 });
 * let toServer = (await client.receive(server.hello)).send!;
 * const proof = await server.receive(toServer);          // the server proves first
 * toServer = (await client.receive(proof.send!)).send!;  // then the client
 * const welcome = await server.receive(toServer);
 * const done = await client.receive(welcome.send!);
 * console.assert(welcome.done && done.done && done.secrets !== undefined);
 * ```
 */
export class ServerHandshake {
  /** The encoded hello to send first. */
  readonly hello: Uint8Array;
  #auth: ServerAuth;
  #nonce: Uint8Array;
  #ephemeral: EphemeralKey | undefined;
  #keys: ConnectionKeys | undefined;
  #transcript: Uint8Array<ArrayBuffer> | undefined;
  #clientNonce: Uint8Array | undefined;

  private constructor(auth: ServerAuth, nonce: Uint8Array, ephemeral: EphemeralKey | undefined) {
    this.#auth = auth;
    this.#nonce = nonce;
    this.#ephemeral = ephemeral;
    const hello: ServerHello = {
      cyberdb: PROTOCOL_VERSION,
      auth: auth.key !== undefined,
      encrypt: auth.encrypt,
      nonce,
    };
    if (auth.key && ephemeral) {
      Object.assign(hello, { salt: auth.salt, iterations: auth.iterations, key: ephemeral.publicKey });
    }
    this.hello = encode(hello);
  }

  /**
   * Starts a handshake: a fresh nonce and, with auth, a fresh X25519 key pair.
   *
   * @param auth the server's password key and encryption setting
   * @returns the handshake; send {@link ServerHandshake.hello} first
   */
  static async create(auth: ServerAuth): Promise<ServerHandshake> {
    return new ServerHandshake(auth, randomBytes(NONCE_SIZE), auth.key ? await ephemeralKey() : undefined);
  }

  /**
   * Takes the client's next message.
   *
   * @param frame the frame as received
   * @returns what to send, and whether the client is now authenticated (`done`) or refused (`refused`)
   */
  receive(frame: Uint8Array): Promise<HandshakeStep> {
    return this.#keys === undefined ? this.#onHello(frame) : this.#onProof(frame);
  }

  async #onHello(frame: Uint8Array): Promise<HandshakeStep> {
    const hello = decodeMessage(frame) as Partial<ClientHello> | undefined;
    if (hello === undefined || !isBytes(hello.nonce, NONCE_SIZE) || typeof hello.encrypt !== "boolean") {
      return refuse("BAD_REQUEST", "the first frame must be a cyberdb handshake; is this a cyberdb client?");
    }
    if (this.#auth.encrypt && !hello.encrypt) {
      return refuse("ENCRYPTION_REQUIRED", "this server requires encryption; pass encrypt: true to connect()");
    }
    if (!this.#auth.encrypt && hello.encrypt) {
      return refuse("ENCRYPTION_UNAVAILABLE", "this server does not offer encryption; start it with --encrypt");
    }
    if (this.#auth.key === undefined) return { send: encode({} satisfies ServerWelcome), done: true };
    if (!isBytes(hello.key, PUBLIC_KEY_SIZE)) {
      return refuse("AUTH_FAILED", "this server requires a password; pass password to connect()");
    }
    let secret: Uint8Array;
    try {
      secret = await sharedSecret(this.#ephemeral!, hello.key);
    } catch {
      return refuse("BAD_REQUEST", "the client's key exchange is malformed");
    }
    this.#transcript = await transcriptHash([this.hello, frame]);
    this.#keys = await connectionKeys(this.#auth.key, secret, this.#transcript);
    this.#clientNonce = hello.nonce;
    this.#ephemeral = undefined;
    const message: ServerProof = { proof: await proof(this.#keys.serverProof, this.#transcript) };
    return { send: encode(message), done: false };
  }

  async #onProof(frame: Uint8Array): Promise<HandshakeStep> {
    const message = decodeMessage(frame) as Partial<ClientProof> | undefined;
    if (message !== undefined && Array.isArray(message.error)) {
      return { done: false, refused: `the client refused: ${String(message.error[1]).slice(0, 200)}` };
    }
    if (!await verify(this.#keys!.clientProof, this.#transcript!, message?.proof)) {
      return refuse("AUTH_FAILED", "wrong password");
    }
    const secrets = this.#auth.encrypt
      ? await deriveSessionSecrets(this.#keys!.records, this.#nonce, this.#clientNonce!)
      : undefined;
    return { send: encode({} satisfies ServerWelcome), done: true, secrets };
  }
}

function refuse(code: string, message: string): HandshakeStep {
  return { send: encode({ error: [code, message] } satisfies ServerWelcome), done: false, refused: message };
}

/**
 * The client's side of one connection's handshake: feed it each frame the
 * server sends, send what it returns, until `done`.
 *
 * @example
 * ```ts
 * import { ClientHandshake } from "./handshake.ts";
 * const client = new ClientHandshake({ encrypt: false });
 * console.assert(client !== undefined);
 * ```
 */
export class ClientHandshake {
  #options: ClientAuth;
  #step = 0;
  #failed = false;
  #serverNonce: Uint8Array | undefined;
  #nonce: Uint8Array | undefined;
  #auth = false;
  #keys: Promise<ConnectionKeys> | undefined;
  #transcript: Uint8Array<ArrayBuffer> | undefined;

  /**
   * @param options the password, whether to insist on encryption, the iteration floor
   */
  constructor(options: ClientAuth) {
    this.#options = options;
  }

  /**
   * Takes the server's next message.
   *
   * @param frame the frame as received
   * @returns what to send now, and `done` once authenticated (with the record keys when encrypting)
   * @throws {AuthenticationError} a password mismatch in configuration, or a server that cannot prove it knows the password
   * @throws {EncryptionUnavailableError} when the client wants encryption and the server offers none
   * @throws {EncryptionRequiredError} when the server requires encryption and the client did not ask for it
   * @throws {BadRequestError} when the peer is not a cyberdb server of this protocol version, or asks for too few iterations
   * @throws {CyberDBError} the server's refusal, by its code
   */
  receive(frame: Uint8Array): Promise<HandshakeStep> {
    const message = decodeMessage(frame);
    if (message === undefined) {
      return Promise.reject(new BadRequestError("the peer is not a cyberdb server"));
    }
    if (Array.isArray(message.error)) {
      return Promise.reject(errorFromCode(String(message.error[0]), String(message.error[1])));
    }
    const step = this.#step++;
    if (step === 0) return this.#onHello(frame, message as Partial<ServerHello>);
    if (step === 1 && this.#auth) return this.#onProof(message as Partial<ServerProof>);
    return this.#onWelcome();
  }

  async #onHello(frame: Uint8Array, hello: Partial<ServerHello>): Promise<HandshakeStep> {
    const { password, encrypt } = this.#options;
    if (typeof hello.cyberdb !== "number") throw new BadRequestError("the peer is not a cyberdb server");
    if (hello.cyberdb !== PROTOCOL_VERSION) {
      throw new BadRequestError(
        `the server speaks protocol ${hello.cyberdb}, this client ${PROTOCOL_VERSION}; upgrade the older side`,
      );
    }
    if (!isBytes(hello.nonce, NONCE_SIZE)) throw new BadRequestError("malformed server hello");
    if (encrypt && !hello.encrypt) {
      throw new EncryptionUnavailableError(
        "the server does not offer encryption; start it with --encrypt, or connect without encrypt",
      );
    }
    if (!encrypt && hello.encrypt) {
      throw new EncryptionRequiredError("this server requires encryption; pass encrypt: true to connect()");
    }
    this.#serverNonce = hello.nonce;
    this.#nonce = randomBytes(NONCE_SIZE);
    if (!hello.auth) {
      if (password !== undefined) {
        throw new AuthenticationError(
          "the server has no password, but a password was given; start the server with --password, or connect without one",
        );
      }
      return { send: encode({ nonce: this.#nonce, encrypt } satisfies ClientHello), done: false };
    }
    if (password === undefined) {
      throw new AuthenticationError("this server requires a password; pass password to connect()");
    }
    const { salt, iterations, key } = hello;
    const floor = this.#options.minIterations ?? MIN_ITERATIONS;
    if (
      !(salt instanceof Uint8Array) || salt.length < 8 || salt.length > 64 || !isBytes(key, PUBLIC_KEY_SIZE) ||
      !Number.isSafeInteger(iterations)
    ) {
      throw new BadRequestError("malformed server hello");
    }
    if (iterations! < floor || iterations! > MAX_ITERATIONS) {
      throw new BadRequestError(
        `the server asks for ${iterations} PBKDF2 iterations, outside ${floor}..${MAX_ITERATIONS}: a proof made with ` +
          `so few would be cheap to guess passwords against; is it the server you meant? (minIterations lowers the floor)`,
      );
    }
    this.#auth = true;
    const own = await ephemeralKey();
    const reply = encode({ nonce: this.#nonce, encrypt, key: own.publicKey } satisfies ClientHello);
    this.#keys = (async () => {
      const [secret, transcript, passwordKeys] = await Promise.all([
        sharedSecret(own, key!),
        transcriptHash([frame, reply]),
        passwordKey(password, salt, iterations!),
      ]);
      this.#transcript = transcript;
      return connectionKeys(passwordKeys, secret, transcript);
    })();
    this.#keys.catch(() => {}); // surfaces in #onProof
    return { send: reply, done: false };
  }

  async #onProof(message: Partial<ServerProof>): Promise<HandshakeStep> {
    let keys: ConnectionKeys;
    try {
      keys = await this.#keys!;
    } catch {
      throw new BadRequestError("the server's key exchange is malformed; is it the server you meant?");
    }
    if (!await verify(keys.serverProof, this.#transcript!, message.proof)) {
      this.#failed = true;
      throw new AuthenticationError(
        "the server could not prove it knows this password: the password is wrong, or it is not the server you meant",
      );
    }
    return {
      send: encode({ proof: await proof(keys.clientProof, this.#transcript!) } satisfies ClientProof),
      done: false,
    };
  }

  async #onWelcome(): Promise<HandshakeStep> {
    if (this.#failed) throw new BadRequestError("the handshake already failed");
    const secrets = this.#auth && this.#options.encrypt
      ? await deriveSessionSecrets((await this.#keys!).records, this.#serverNonce!, this.#nonce!)
      : undefined;
    return { done: true, secrets };
  }
}

/**
 * The message a client sends the server when it gives up on the handshake
 * (so the server's log says why), e.g. after a server proof that did not check.
 *
 * @param error why
 * @returns the encoded message
 * @example
 * ```ts
 * import { clientRefusal } from "./handshake.ts";
 * console.assert(clientRefusal(new Error("x")).length > 0);
 * ```
 */
export function clientRefusal(error: Error): Uint8Array {
  const code = (error as { code?: string }).code ?? "BAD_REQUEST";
  return encode({ error: [code, error.message.slice(0, 200)] } satisfies ClientProof);
}
