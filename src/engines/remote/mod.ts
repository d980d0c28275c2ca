/**
 * The remote engine's entry point: `connect()` to a cyberdb server.
 *
 * @module
 */
import { Client } from "../../client/client.ts";
import type { ConnectOptions } from "./connection.ts";
import { RemoteEngine } from "./pool.ts";
import { parseConnectUrl } from "./url.ts";

export type { ConnectOptions } from "./connection.ts";
export { parseConnectUrl, URL_VARIABLE } from "./url.ts";

/**
 * Connects to a cyberdb server. Opens and authenticates the first pooled
 * connection before resolving, so a wrong password, an unreachable server or
 * an encryption mismatch rejects here.
 *
 * The server may be given as a URL, `cyberdb://[:password@]host[:port][?encrypt=1]` or
 * `cyberdb+unix:///path/to/socket[?password=...]` (see {@link parseConnectUrl}); options given
 * beside it override what the URL says.
 *
 * @param target where the server is and how to authenticate: options, or a URL
 * @param options with a URL, more options (they win over the URL's)
 * @returns the client, with one idle connection in its pool
 * @throws {RangeError} for a URL with a bad scheme, port or parameter (the message names it)
 * @throws {CyberDBError} `AUTH_FAILED`, `ENCRYPTION_REQUIRED`, `ENCRYPTION_UNAVAILABLE`, `FORBIDDEN`,
 *   `TOO_MANY_CONNECTIONS`, `TIMEOUT` or `CONNECTION_CLOSED`
 * @example
 * ```ts
 * import { connect, Server } from "../../../mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ port: 0, password: "123456" });
 * const client = await connect({ port, password: "123456" });
 * await client.close();
 * const viaUrl = await connect(`cyberdb://:123456@127.0.0.1:${port}`);
 * await viaUrl.close();
 * await server.close();
 * ```
 */
export async function connect(target: ConnectOptions | string = {}, options: ConnectOptions = {}): Promise<Client> {
  // An option left undefined does not hide what the URL says.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const merged = typeof target === "string" ? { ...parseConnectUrl(target), ...given } : { ...target, ...given };
  const client = new Client(new RemoteEngine(merged));
  await client.getProxy().connect().then((proxy) => proxy.close());
  return client;
}
