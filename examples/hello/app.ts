/**
 * The example's web app, for `deno serve --parallel` (one worker per core,
 * or `DENO_JOBS` workers; the Gunicorn `-w 4` of Deno). Every worker keeps
 * one client with one connection to the cyberdb server (`sharedConnections:
 * 1`): each request takes a proxy, and the proxies of concurrent requests
 * share that connection, their requests multiplexed in order, as ioredis
 * does. So all workers share the same tables, over one connection each.
 *
 * ```sh
 * DENO_JOBS=4 deno serve --parallel -A --host 127.0.0.1 examples/hello/app.ts
 * curl localhost:8000/              # {"code":1,"content":"Hello CyberDB!"}
 * curl -X POST localhost:8000/hits  # {"code":1,"hits":1}
 * curl -X PUT --data 'Hi!' localhost:8000/content  # {"code":1}: every worker answers "Hi!" from now on
 * ```
 *
 * `GET /` answers from a per-worker cache of `content`, kept fresh by
 * `centre.watch()`: a change made through any worker (or any client) reaches
 * every worker's cache within milliseconds. The cache watches first, then
 * reads, so no change falls between the two; when the watch ends (the
 * connection dropped, or the worker fell behind), the cache is dropped and
 * the next request reads again and watches again. Each answer names its
 * worker in an `x-worker` header.
 *
 * `--host 127.0.0.1`: `deno serve` listens on every interface (0.0.0.0) by
 * default; drop it, or put a proxy in front, to serve other machines.
 * Ctrl-C (or SIGTERM) closes each worker's client, which ends its watch, so
 * the workers exit at once; an idle client connection would not keep a
 * worker alive, an open watch does.
 *
 * Where the server is: `CYBERDB_URL` (`cyberdb://:password@host:port?encrypt=1` or
 * `cyberdb+unix:///path?password=...`; when set, the variables below are not read), else `CYBERDB_HOST` (127.0.0.1), `CYBERDB_PORT` (9980), or
 * `CYBERDB_PATH`, the server's Unix socket (`server.ts --unix <path>`); `CYBERDB_PASSWORD` (hWjYvVdqRC), `CYBERDB_ENCRYPT` (on; `0` or `false`
 * for a server started without encryption).
 *
 * @module
 */
import { type Client, connect, parseConnectUrl } from "../../client.ts";

const url = Deno.env.get("CYBERDB_URL");
const options = url !== undefined ? parseConnectUrl(url) : {
  hostname: Deno.env.get("CYBERDB_HOST") ?? "127.0.0.1",
  port: Number(Deno.env.get("CYBERDB_PORT") ?? 9980),
  path: Deno.env.get("CYBERDB_PATH"), // a Unix socket, instead of host and port
  password: Deno.env.get("CYBERDB_PASSWORD") ?? "hWjYvVdqRC",
  encrypt: !/^(0|false|no|off)$/i.test(Deno.env.get("CYBERDB_ENCRYPT") ?? "1"),
};
// All requests of this worker share one connection, multiplexed in order (as ioredis does): fewer syscalls.
const shared = { sharedConnections: 1 };

// One client per worker, connected on the first request; if that fails, the next request tries again.
let pool: Promise<Client> | undefined;
function client(): Promise<Client> {
  pool ??= connect(options, shared).catch((error) => {
    pool = undefined;
    throw error;
  });
  return pool;
}

// On Ctrl-C or SIGTERM (deno serve forwards them to every worker) the client closes, ending the watch below.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void pool?.then((c) => c.close(), () => {}));
}

// This worker's copy of centre's "content", and the watch that keeps it fresh.
let cache: Promise<{ content: unknown }> | undefined;
function cachedContent(): Promise<unknown> {
  cache ??= follow().catch((error) => {
    cache = undefined;
    throw error;
  });
  return cache.then((entry) => entry.content);
}

async function follow(): Promise<{ content: unknown }> {
  const proxy = await (await client()).getProxy().connect(); // held for as long as the watch runs
  try {
    const centre = await proxy.getCyberDict("centre");
    // Watch first, then read: a change committed in between is in the feed, so none is missed.
    const changes = await centre.watch({ keys: ["content"] });
    const entry = { content: await centre.get("content") };
    (async () => {
      try {
        for await (const change of changes) {
          for (const one of change.op === "batch" ? change.changes : [change]) {
            entry.content = one.op === "set" ? one.value : undefined; // delete or clear: gone
          }
        }
      } catch (error) {
        console.error(`content cache: ${(error as Error).message}`);
      } finally {
        cache = undefined; // the next request reads again, then watches again
        await proxy.close();
      }
    })();
    return entry;
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

const WORKER = crypto.randomUUID().slice(0, 8);
const ROUTES = ["GET /", "POST /hits", "PUT /content"];

async function fetch(request: Request): Promise<Response> {
  const route = `${request.method} ${new URL(request.url).pathname}`;
  const headers = { "x-worker": WORKER };
  if (!ROUTES.includes(route)) {
    return Response.json({ code: 0, error: `no route ${route}` }, { status: 404, headers });
  }
  try {
    if (route === "GET /") return Response.json({ code: 1, content: await cachedContent() }, { headers });
    await using proxy = await (await client()).getProxy().connect(); // on the worker's one shared connection
    const centre = await proxy.getCyberDict("centre");
    if (route === "PUT /content") {
      await centre.set("content", await request.text());
      return Response.json({ code: 1 }, { headers });
    }
    // increment is one atomic request on the server: no update is lost between workers.
    return Response.json({ code: 1, hits: await centre.increment("hits") }, { headers });
  } catch (error) {
    console.error(error);
    return Response.json({ code: 0, error: (error as Error).message }, { status: 500, headers });
  }
}

export default { fetch } satisfies Deno.ServeDefaultExport;
