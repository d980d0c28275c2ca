/**
 * What the two commands, `server.ts` and `client.ts`, share on their command
 * lines: the connection flags' `parseArgs` table, integer and port flags
 * checked against their range, and the password taken from the environment
 * when no flag gives it.
 *
 * @module
 */
import { runtime } from "./runtime/mod.ts";

/** A flag whose value is out of range or that needs another flag; the command prints it with its usage and exits 2. */
export class FlagError extends Error {
  /**
   * Makes the error.
   *
   * @param message which flag is wrong and what it accepts
   */
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** The `parseArgs` options both commands take: where the server is (TCP or `--unix` socket), its password, encryption, help and version. */
export const CONNECTION_FLAGS = {
  hostname: { type: "string" },
  port: { type: "string" },
  unix: { type: "string" },
  password: { type: "string" },
  encrypt: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/** The environment variable a command reads the password from when `--password` is not given. */
export const PASSWORD_VARIABLE = "CYBERDB_PASSWORD";

/**
 * Reads an integer flag.
 *
 * @param name the flag's name without the leading `--`, for the message
 * @param text the flag's value as given, or `undefined` when the flag is absent
 * @param min the smallest value accepted
 * @param max the largest value accepted
 * @returns the value, or `undefined` when the flag is absent
 * @throws {FlagError} when `text` is not a plain decimal integer from `min` to `max`
 * @example
 * ```ts
 * import { integerFlag } from "./command_line.ts";
 * console.log(integerFlag("max-connections", "100", 1, 10_000_000)); // 100
 * ```
 */
export function integerFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new FlagError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * Reads `--port`.
 *
 * @param text the flag's value as given, or `undefined` when the flag is absent
 * @param min 0 where 0 means "any free port" (the server), 1 where a real port is needed (the client)
 * @returns the port, or `undefined` when the flag is absent
 * @throws {FlagError} when `text` is not an integer from `min` to 65535
 * @example
 * ```ts
 * import { portFlag } from "./command_line.ts";
 * console.log(portFlag("0", 0)); // 0
 * ```
 */
export function portFlag(text: string | undefined, min: 0 | 1): number | undefined {
  return integerFlag("port", text, min, 65535);
}

/**
 * The password: `--password` when given, else the {@link PASSWORD_VARIABLE} environment variable.
 *
 * @param flag the `--password` value, or `undefined` when the flag is absent
 * @returns the password, or `undefined` when neither gives one
 * @example
 * ```ts
 * import { passwordFlag } from "./command_line.ts";
 * console.log(passwordFlag("123456")); // "123456"
 * ```
 */
export function passwordFlag(flag: string | undefined): string | undefined {
  return flag ?? runtime.env(PASSWORD_VARIABLE);
}
