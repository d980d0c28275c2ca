/**
 * The example web app (examples/hello/app.ts) reading the same value from
 * Redis through ioredis instead of cyberdb, for bench/web_app.ts.
 *
 * @module
 */
// A benchmark-only dependency, kept out of deno.json so it never becomes one of the npm package's.
import { Redis } from "ioredis";

const path = Deno.env.get("REDIS_PATH"); // Redis's unixsocket, instead of TCP
const redis = path === undefined
  ? new Redis({ host: "127.0.0.1", port: Number(Deno.env.get("REDIS_PORT") ?? 6379) })
  : new Redis({ path });

async function fetch(request: Request): Promise<Response> {
  const route = `${request.method} ${new URL(request.url).pathname}`;
  if (route === "GET /") return Response.json({ code: 1, content: await redis.hget("centre", "content") });
  if (route === "POST /hits") return Response.json({ code: 1, hits: await redis.hincrby("centre", "hits", 1) });
  return Response.json({ code: 0, error: `no route ${route}` }, { status: 404 });
}

export default { fetch } satisfies Deno.ServeDefaultExport;
