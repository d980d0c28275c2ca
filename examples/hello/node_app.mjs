/**
 * The example's web app under Node, from the npm build (`npm install cyberdb`):
 * a `node:cluster` primary forks 4 workers (the Gunicorn `-w 4` of Node),
 * each with one client — a pool of connections — and each request leases a
 * proxy from it, so all workers share the same tables on the cyberdb server.
 *
 *   node node_app.mjs
 *   curl localhost:8000/              # {"code":1,"content":"Hello CyberDB!"}
 *   curl -X POST localhost:8000/hits  # {"code":1,"hits":1}
 *
 * The app: `HOST` (127.0.0.1), `PORT` (8000), `WORKERS` (4). Where the
 * server is: `CYBERDB_HOST` (127.0.0.1), `CYBERDB_PORT` (9980) or `CYBERDB_PATH` (a Unix socket),
 * `CYBERDB_PASSWORD` (hWjYvVdqRC), `CYBERDB_ENCRYPT` (on; `0` or `false` for
 * a server started without encryption).
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import process from "node:process";
import { connect, parseConnectUrl } from "cyberdb";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8000);
const workers = Number(process.env.WORKERS ?? 4);

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) console.error(`worker ${worker.process.pid} exited (${signal ?? code})`);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
      process.exit(0);
    });
  }
} else {
  // CYBERDB_URL (cyberdb://:password@host:port?encrypt=1, cyberdb+unix:///path?password=...) when set.
  const url = process.env.CYBERDB_URL;
  const options = url !== undefined ? parseConnectUrl(url) : {
    hostname: process.env.CYBERDB_HOST ?? "127.0.0.1",
    port: Number(process.env.CYBERDB_PORT ?? 9980),
    path: process.env.CYBERDB_PATH, // a Unix socket, instead of host and port
    password: process.env.CYBERDB_PASSWORD ?? "hWjYvVdqRC",
    encrypt: !/^(0|false|no|off)$/i.test(process.env.CYBERDB_ENCRYPT ?? "1"),
  };
  // All requests of this worker share one connection, multiplexed in order (as ioredis does): fewer syscalls.
  const shared = { sharedConnections: 1 };

  // One client per worker, connected on the first request; if that fails, the next request tries again.
  let pool;
  const client = () => {
    pool ??= connect(options, shared).catch((error) => {
      pool = undefined;
      throw error;
    });
    return pool;
  };

  const answer = (response, status, body) => {
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };

  const handle = async (request, response) => {
    const route = `${request.method} ${new URL(request.url, "http://localhost").pathname}`;
    if (route !== "GET /" && route !== "POST /hits") {
      return answer(response, 404, { code: 0, error: `no route ${route}` });
    }
    const proxy = await (await client()).getProxy().connect();
    try {
      const centre = await proxy.getCyberDict("centre");
      if (route === "GET /") return answer(response, 200, { code: 1, content: await centre.get("content") });
      // increment is one atomic request on the server: no update is lost between workers.
      return answer(response, 200, { code: 1, hits: await centre.increment("hits") });
    } finally {
      await proxy.close(); // back to the pool
    }
  };

  createServer((request, response) => {
    request.resume(); // no body is read; let the request end
    handle(request, response).catch((error) => {
      console.error(error);
      answer(response, 500, { code: 0, error: error.message });
    });
  }).listen(port, host, () => console.log(`worker ${process.pid} listening on http://${host}:${port}/`));

  // The primary is gone (killed): nothing will stop this worker otherwise.
  process.on("disconnect", () => process.exit(0));
}
