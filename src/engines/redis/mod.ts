/**
 * The Redis engine's entry point: `connectRedis()`. This module does not
 * import ioredis; `connectRedis()` loads it (and the engine) when called,
 * so `import "cyberdb"` works without ioredis installed.
 *
 * @module
 */
import { Client } from "../../client/client.ts";
import { UnsupportedError } from "../../errors.ts";
import type { RedisOptions } from "./options.ts";

export type { RedisOptions } from "./options.ts";

/**
 * Connects to Redis or Valkey — one node, or a Cluster — and returns a
 * {@link Client} whose tables live there: a CyberDict is a Redis hash, a
 * CyberList a Redis list, each table under one hash tag so every op on it
 * is atomic on one node. Resolves once Redis answered. Needs the `ioredis`
 * package (`npm install ioredis` under Node; Deno fetches it itself).
 *
 * @param options `{ url }` for one node (default `redis://127.0.0.1:6379`), or `{ cluster: ["host:port", …] }`
 * @returns the client
 * @throws {CyberDBError} `CONNECTION_CLOSED` when Redis cannot be reached, `AUTH_FAILED` for a wrong
 *   password, `UNSUPPORTED` for `encrypt` (use a `rediss://` URL) or when ioredis is not installed
 * @example
 * ```ts
 * import { connectRedis } from "../../../mod.ts";
 * try {
 *   const client = await connectRedis({ url: "redis://127.0.0.1:6379", connectTimeout: 500 });
 *   await client.close();
 * } catch (error) {
 *   console.log("no Redis running:", (error as Error).message);
 * }
 * ```
 */
export async function connectRedis(options: RedisOptions = {}): Promise<Client> {
  let engine: typeof import("./engine.ts");
  try {
    engine = await import("./engine.ts");
  } catch (error) {
    throw new UnsupportedError(
      `the redis engine needs the ioredis package, which could not be loaded (${(error as Error).message}); ` +
        "install it beside cyberdb: npm install ioredis",
    );
  }
  return new Client(await engine.RedisEngine.open(options));
}
