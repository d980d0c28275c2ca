/**
 * The client side of cyberdb only: `connect()`, `open()` (the tables
 * in-process), the proxy and the table handles, without any server code. Run as a script, it is the shell:
 *
 * ```sh
 * deno run -A client.ts --port 9980 --password 123456                     # a prompt
 * deno run -A client.ts --port 9980 --password 123456 get centre content  # one command, for scripts
 * ```
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
import { runtime } from "./src/runtime/mod.ts";

export { Client } from "./src/client/client.ts";
export type { Engine, EngineConnection, EngineName } from "./src/client/engine.ts";
export { connect, type ConnectOptions, parseConnectUrl, URL_VARIABLE } from "./src/engines/remote/mod.ts";
// open() holds the store in-process (src/store/: tables, snapshots, journal — no sockets, no src/server/),
// so the client entry point offers it too: a test or a script needs no server code for it.
export { open, type OpenOptions } from "./src/engines/memory/mod.ts";
export type { FsyncPolicy, JournalOptions } from "./src/store/journal.ts";
export { connectRedis, type RedisOptions } from "./src/engines/redis/mod.ts";
export { Proxy } from "./src/client/proxy.ts";
export { type AnyTable, AtomicBatch, type AtomicOpError, type AtomicResult } from "./src/client/atomic.ts";
export { CyberDict, type DictInit, type Key, type Requester, type SetOptions } from "./src/client/cyber_dict.ts";
export { CyberList, type SortOptions } from "./src/client/cyber_list.ts";
export {
  type Batch,
  ChangeStream,
  type DictChange,
  type DictWatchOptions,
  type ListChange,
  type StoreChange,
  type WatchOptions,
  type WatchPromise,
  type WatchSink,
  type WatchTarget,
} from "./src/client/watch.ts";
export type {
  ClientInfo,
  InfoOptions,
  ServerInfo,
  SlowlogEntry,
  TableInfo,
  TableKind,
} from "./src/protocol/messages.ts";
export { VERSION } from "./src/version.ts";
export * from "./src/errors.ts";
export type { TlsCertificate, TlsVerification } from "./src/runtime/mod.ts";

// The shell is loaded only when client.ts is the script run, so importing the client stays light.
// No top-level await: under Node, `require("cyberdb/client")` loads this module synchronously.
if (runtime.isMain(import.meta.url)) {
  import("./src/client/cli.ts").then(({ main }) => main(runtime.args())).then((code) => runtime.exit(code));
}
