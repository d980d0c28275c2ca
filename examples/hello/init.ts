/**
 * Creates the example's tables once and saves them to a snapshot file, as
 * CyberDB's tutorial does: a table `centre` holding
 * `content = "Hello CyberDB!"`, saved to `data.cdb`.
 *
 * ```sh
 * deno run -A examples/hello/init.ts                  # writes data.cdb
 * deno run -A examples/hello/init.ts --db /tmp/x.cdb --force
 * ```
 *
 * Flags, else environment variables, else the story's values: `--hostname`
 * (`CYBERDB_HOST`, 127.0.0.1), `--port` (`CYBERDB_PORT`, 9980; 0 = any free
 * port), `--password` (`CYBERDB_PASSWORD`, 123456), `--db` (`CYBERDB_DB`,
 * data.cdb). An existing snapshot is kept unless `--force` is given.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connect, Server } from "../../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    hostname: { type: "string" },
    port: { type: "string" },
    password: { type: "string" },
    db: { type: "string" },
    force: { type: "boolean" },
  },
});
const hostname = values.hostname ?? Deno.env.get("CYBERDB_HOST") ?? "127.0.0.1";
const port = Number(values.port ?? Deno.env.get("CYBERDB_PORT") ?? 9980);
const password = values.password ?? Deno.env.get("CYBERDB_PASSWORD") ?? "123456";
const path = values.db ?? Deno.env.get("CYBERDB_DB") ?? "data.cdb";

if (!values.force && await Deno.stat(path).then(() => true, () => false)) {
  console.error(`${path} exists already; keeping it (pass --force to start over)`);
  Deno.exit(1);
}

// The tables live in a server; this one runs only long enough to fill them and save.
const server = new Server();
const address = await server.start({ hostname, port, password });
const client = await connect({ ...address, password });
{
  await using proxy = await client.getProxy().connect();
  const centre = await proxy.createCyberDict("centre");
  await centre.set("content", "Hello CyberDB!");
}
await server.save(path);
await client.close();
await server.close();
console.log(`saved table centre to ${path}`);
