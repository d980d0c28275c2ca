/**
 * The example's web app, for `deno serve --parallel` (one worker per core,
 * or `DENO_JOBS` workers; the Gunicorn `-w 4` of Deno). Every worker keeps
 * one client — a pool of connections — and each request leases a proxy
 * from it, so all workers share the same tables on the cyberdb server.
 *
 * ```sh
 * DENO_JOBS=4 deno serve --parallel -A examples/hello/app.ts
 * curl localhost:8000/              # {"code":1,"content":"Hello CyberDB!"}
 * curl -X POST localhost:8000/hits  # {"code":1,"hits":1}
 * ```
 *
 * Where the server is: `CYBERDB_HOST` (127.0.0.1), `CYBERDB_PORT` (9980),
 * `CYBERDB_PASSWORD` (hWjYvVdqRC), `CYBERDB_ENCRYPT` (on; `0` or `false`
 * for a server started without encryption).
 *
 * @module
 */
import { type Client, connect } from "../../client.ts";

const options = {
  hostname: Deno.env.get("CYBERDB_HOST") ?? "127.0.0.1",
  port: Number(Deno.env.get("CYBERDB_PORT") ?? 9980),
  password: Deno.env.get("CYBERDB_PASSWORD") ?? "hWjYvVdqRC",
  encrypt: !/^(0|false|no|off)$/i.test(Deno.env.get("CYBERDB_ENCRYPT") ?? "1"),
  // All requests of this worker share one connection, multiplexed in order (as ioredis does): fewer syscalls.
  sharedConnections: 1,
};

// One client per worker, connected on the first request; if that fails, the next request tries again.
let pool: Promise<Client> | undefined;
function client(): Promise<Client> {
  pool ??= connect(options).catch((error) => {
    pool = undefined;
    throw error;
  });
  return pool;
}

async function fetch(request: Request): Promise<Response> {
  const route = `${request.method} ${new URL(request.url).pathname}`;
  if (route !== "GET /" && route !== "POST /hits") {
    return Response.json({ code: 0, error: `no route ${route}` }, { status: 404 });
  }
  try {
    await using proxy = await (await client()).getProxy().connect(); // back to the pool when done
    const centre = await proxy.getCyberDict("centre");
    if (route === "GET /") return Response.json({ code: 1, content: await centre.get("content") });
    // increment is one atomic request on the server: no update is lost between workers.
    return Response.json({ code: 1, hits: await centre.increment("hits") });
  } catch (error) {
    console.error(error);
    return Response.json({ code: 0, error: (error as Error).message }, { status: 500 });
  }
}

export default { fetch } satisfies Deno.ServeDefaultExport;
