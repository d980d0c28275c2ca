/**
 * The cyberdb server command, and a re-export of {@link Server}.
 *
 * ```sh
 * deno run -A server.ts --help
 * deno run -A server.ts --db data.cdb --backup-interval 300 --password hWjYvVdqRC --max-connections 10000
 * ```
 *
 * @example
 * ```ts
 * import { Server } from "./server.ts";
 * const server = new Server({ log: true });
 * await server.start({ port: 0 });
 * await server.close();
 * ```
 *
 * @module
 */
import { runtime } from "./src/runtime/mod.ts";
import { main } from "./src/server/cli.ts";

export {
  type BackupOptions,
  Server,
  type ServerAddress,
  type ServerOptions,
  type StartOptions,
} from "./src/server/server.ts";
export { main, USAGE } from "./src/server/cli.ts";

// No top-level await: under Node, `require("cyberdb/server")` loads this module synchronously.
if (runtime.isMain(import.meta.url)) main(runtime.args()).then((code) => runtime.exit(code));
