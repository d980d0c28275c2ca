/**
 * Test child: a journaling server with a journal size limit, which the
 * command line has no flag for, so that tests can make compaction happen all
 * the time and kill the process in the middle of one.
 *
 * ```sh
 * deno run -A tests/_journal_server.ts --port 0 --journal j --db db.cdb --max-size 4096 [--fsync always]
 * ```
 *
 * Logs (including `listening on host:port` once ready) go to stderr; SIGINT
 * or SIGTERM shuts it down like `server.ts`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Server } from "../mod.ts";
import type { FsyncPolicy } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";

const { values } = parseArgs({
  args: runtime.args(),
  strict: true,
  options: {
    port: { type: "string", default: "0" },
    journal: { type: "string" },
    db: { type: "string" },
    "max-size": { type: "string", default: "4096" },
    fsync: { type: "string", default: "always" },
  },
});
if (values.journal === undefined || values.db === undefined) {
  console.error(
    "usage: _journal_server.ts --journal <path> --db <path> [--port n] [--max-size bytes] [--fsync policy]",
  );
  runtime.exit(2);
}
const server = new Server({ log: true });
try {
  if (await runtime.exists(values.db)) await server.load(values.db);
  server.setBackup(values.db, { interval: 0 });
  await server.run({
    hostname: "127.0.0.1",
    port: Number(values.port),
    journal: { path: values.journal, fsync: values.fsync as FsyncPolicy, maxSize: Number(values["max-size"]) },
  });
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  await server.close();
  runtime.exit(1);
}
