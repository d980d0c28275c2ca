/**
 * cyberdb: an in-memory database server for TypeScript. A server holds named
 * tables — {@link CyberDict} (a remote `Map`) and {@link CyberList} (a
 * remote `Array`) — that many processes share through a pooled, pipelined
 * client.
 *
 * @example
 * ```ts
 * import { connect, Server } from "./mod.ts";
 * const server = new Server();
 * const { port } = await server.start({ hostname: "127.0.0.1", port: 0, password: "123456" });
 * const client = await connect({ hostname: "127.0.0.1", port, password: "123456" });
 * {
 *   await using proxy = await client.getProxy().connect();
 *   const centre = await proxy.createCyberDict("centre");
 *   await centre.set("content", "Hello CyberDB!");
 *   console.log(await centre.get("content"));
 * }
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */
export * from "./client.ts";
export {
  type BackupOptions,
  Server,
  type ServerAddress,
  type ServerOptions,
  type StartOptions,
} from "./src/server/server.ts";
export type { SessionLimitOptions } from "./src/server/limits.ts";
export {
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFields,
  type LogFormat,
  type LoggerOptions,
  type LogLevel,
  type LogWriter,
} from "./src/log.ts";
