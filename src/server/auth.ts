/**
 * The server's side of the handshake for one start. Kept apart from
 * `start_options.ts`, whose declarations the package's public types reach:
 * this file's (the crypto types) they need not.
 *
 * @module
 */
import { PASSWORD_ITERATIONS, passwordKey, type ServerAuth } from "../crypto/handshake.ts";
import { randomBytes } from "../crypto/random.ts";

/**
 * The server's side of the handshake for one start: a fresh salt and the key derived from the password
 * (none without one).
 *
 * @param password the password clients must prove they know, if any
 * @param encrypt whether connections must be encrypted
 * @returns what the sessions of this start authenticate with
 */
export async function serverAuth(password: string | undefined, encrypt: boolean): Promise<ServerAuth> {
  const salt = randomBytes(16);
  return {
    key: password === undefined ? undefined : await passwordKey(password, salt, PASSWORD_ITERATIONS),
    salt,
    iterations: PASSWORD_ITERATIONS,
    encrypt,
  };
}
