/**
 * The client side of cyberdb only: `connect()`, the proxy and the table
 * handles, without any server code.
 *
 * @example
 * ```ts
 * import { connect } from "./client.ts";
 * try {
 *   const client = await connect({ port: 9980, connectTimeout: 500 });
 *   await client.close();
 * } catch (error) {
 *   console.log("no server running:", (error as Error).message);
 * }
 * ```
 *
 * @module
 */
export { Client, connect } from "./src/client/client.ts";
export type { ConnectOptions } from "./src/client/connection.ts";
export { Proxy } from "./src/client/proxy.ts";
export { CyberDict, type DictInit, type Key, type Requester } from "./src/client/cyber_dict.ts";
export { CyberList, type SortOptions } from "./src/client/cyber_list.ts";
export type { ServerInfo, TableInfo, TableKind } from "./src/protocol/messages.ts";
export { VERSION } from "./src/version.ts";
export * from "./src/errors.ts";
