/**
 * Serves the example's tables, as CyberDB's `cyberdb_serve.py` does: load
 * `data.cdb`, snapshot it every 300 seconds (and once more on Ctrl-C or
 * SIGTERM), require a password and encryption, allow up to 10,000
 * connections, log connections and snapshots.
 *
 * ```sh
 * deno run -A examples/hello/serve.ts
 * ```
 *
 * Flags, else environment variables, else the story's values: `--hostname`
 * (`CYBERDB_HOST`, 127.0.0.1), `--port` (`CYBERDB_PORT`, 9980), `--password`
 * (`CYBERDB_PASSWORD`, hWjYvVdqRC), `--db` (`CYBERDB_DB`, data.cdb).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Server } from "../../mod.ts";

const BACKUP_INTERVAL = 300; // seconds
const MAX_CONNECTIONS = 10_000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    hostname: { type: "string" },
    port: { type: "string" },
    password: { type: "string" },
    db: { type: "string" },
  },
});
const hostname = values.hostname ?? Deno.env.get("CYBERDB_HOST") ?? "127.0.0.1";
const port = Number(values.port ?? Deno.env.get("CYBERDB_PORT") ?? 9980);
const password = values.password ?? Deno.env.get("CYBERDB_PASSWORD") ?? "hWjYvVdqRC";
const path = values.db ?? Deno.env.get("CYBERDB_DB") ?? "data.cdb";

const server = new Server({ log: true });
try {
  await server.load(path);
} catch (error) {
  console.error(`${(error as Error).message}\nRun examples/hello/init.ts first to create ${path}.`);
  Deno.exit(1);
}
server.setBackup(path, { interval: BACKUP_INTERVAL });
await server.run({ hostname, port, password, encrypt: true, maxConnections: MAX_CONNECTIONS });
