/**
 * The remote engine's entry point: `connect()` to a cyberdb server.
 *
 * @module
 */
import { Client } from "../../client/client.ts";
import type { ConnectOptions } from "./connection.ts";
import { RemoteEngine } from "./pool.ts";

export type { ConnectOptions } from "./connection.ts";

/**
 * Connects to a cyberdb server. Opens and authenticates the first pooled
 * connection before resolving, so a wrong password, an unreachable server or
 * an encryption mismatch rejects here.
 *
 * @param options where the server is and how to authenticate
 * @returns the client, with one idle connection in its pool
 * @throws {CyberDBError} `AUTH_FAILED`, `ENCRYPTION_REQUIRED`, `ENCRYPTION_UNAVAILABLE`, `FORBIDDEN`,
 *   `TOO_MANY_CONNECTIONS`, `TIMEOUT` or `CONNECTION_CLOSED`
 * @example
 * ```ts
 * import { connect, Server } from "../../../mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ port: 0, password: "123456" });
 * const client = await connect({ port, password: "123456" });
 * await client.close();
 * await server.close();
 * ```
 */
export async function connect(options: ConnectOptions = {}): Promise<Client> {
  const client = new Client(new RemoteEngine(options));
  await client.getProxy().connect().then((proxy) => proxy.close());
  return client;
}
