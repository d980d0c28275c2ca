/**
 * The article's scenario as a benchmark: the example web app with 4 workers
 * (`deno serve --parallel`), 50 connections from `wrk`, reading the shared
 * value from (a) cyberdb, plain and encrypted, and (b) Redis via ioredis,
 * both over TCP and both over Unix sockets (`CYBERDB_PATH`, Redis's
 * `unixsocket`) — alternating over several rounds, in one run. Two routes:
 * `GET /` (the app answers from its watched copy of the value; the Redis app
 * does an HGET) and `POST /hits` (one increment round trip on both).
 *
 * ```sh
 * npx -y deno@2 task bench:web        # needs wrk, redis-server, redis-cli (Debian packages)
 * ```
 *
 * @module
 */
import { benchArgs } from "./_args.ts";
import { connect, Server } from "../mod.ts";
import { freePort, have, ROOT, run, startProcess } from "./_processes.ts";

const flags = benchArgs(
  `
Usage: deno task bench:web [options]

The example web app (deno serve --parallel, 4 workers) under wrk, 50 connections,
GET / and POST /hits, reading from cyberdb (plain and encrypted) and from Redis via
ioredis, both over TCP and both over Unix sockets, alternating.
Needs wrk, redis-server and redis-cli.

Options:
  --rounds <n>    rounds (default 3)
  --seconds <n>   seconds of load per round and side (default 10)
  --routes <list> comma-separated routes (default "GET /,POST /hits")
  -h, --help      show this help
`,
  {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "10" },
    routes: { type: "string", default: "GET /,POST /hits" },
  },
);
const ROUNDS = Number(flags.rounds), SECONDS = Number(flags.seconds);
const PASSWORD = "hWjYvVdqRC";

for (const tool of ["wrk", "redis-server", "redis-cli"]) {
  if (!await have(tool)) {
    console.error(`needs ${tool}: apt-get install wrk redis-server redis-tools`);
    Deno.exit(1);
  }
}

const ROUTES = flags.routes.split(",");
const POST_SCRIPT = await Deno.makeTempFile({ suffix: ".lua" });
await Deno.writeTextFile(POST_SCRIPT, 'wrk.method = "POST"\n');

/** Requests per second that wrk measures against `url`, with `method` (GET or POST). */
async function load(url: string, method: string): Promise<number> {
  const script = method === "POST" ? ["-s", POST_SCRIPT] : [];
  await run("wrk", ["-t", "2", "-c", "50", "-d", "2s", ...script, url]); // warm-up
  const out = await run("wrk", ["-t", "2", "-c", "50", "-d", `${SECONDS}s`, ...script, url]);
  if (/Non-2xx/.test(out)) throw new Error(`errors from ${url}:\n${out}`);
  return Number(out.match(/Requests\/sec:\s+([\d.]+)/)![1]);
}

async function app(script: string, env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const port = freePort();
  const child = await startProcess(
    Deno.execPath(),
    ["serve", "--parallel", "-A", "--host", "127.0.0.1", "--port", String(port), script],
    /Listening|listening/,
    60_000,
    { ...env, DENO_JOBS: "4" },
  );
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) { // every worker up and answering
    if ((await fetch(url).then((r) => r.json()).catch(() => undefined))?.code === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      await child[Symbol.asyncDispose]();
    },
  };
}

const SOCKETS = await Deno.makeTempDir({ prefix: "cdb-web-" });
const cyberdb = new Server();
const plainPort = (await cyberdb.start({ port: 0, password: PASSWORD })).port;
const secret = new Server();
const secretPort = (await secret.start({ port: 0, password: PASSWORD, encrypt: true })).port;
const onSocket = new Server();
const cyberdbPath = (await onSocket.start({ path: `${SOCKETS}/cyberdb.sock`, password: PASSWORD })).path!;
for (
  const [where, encrypt] of [[{ port: plainPort }, false], [{ port: secretPort }, true], [
    { path: cyberdbPath },
    false,
  ]] as const
) {
  const client = await connect({ ...where, password: PASSWORD, encrypt });
  await using proxy = await client.getProxy().connect();
  await proxy.createCyberDict("centre", { content: "Hello CyberDB!" });
  await client.close();
}
const redisPort = freePort();
const redisPath = `${SOCKETS}/redis.sock`;
await using _redis = await startProcess(
  "redis-server",
  [
    "--port",
    String(redisPort),
    "--bind",
    "127.0.0.1",
    "--unixsocket",
    redisPath,
    "--unixsocketperm",
    "700",
    "--save",
    "",
    "--appendonly",
    "no",
  ],
  /Ready to accept connections/,
);
await run("redis-cli", ["-p", String(redisPort), "HSET", "centre", "content", "Hello CyberDB!"]);

const APP = `${ROOT}examples/hello/app.ts`, REDIS_APP = `${ROOT}bench/_redis_app.ts`;
const variants = [
  ["cyberdb tcp", APP, { CYBERDB_PORT: String(plainPort), CYBERDB_ENCRYPT: "0" }],
  ["cyberdb tcp encrypted", APP, { CYBERDB_PORT: String(secretPort), CYBERDB_ENCRYPT: "1" }],
  ["redis tcp", REDIS_APP, { REDIS_PORT: String(redisPort) }],
  ["cyberdb unix", APP, { CYBERDB_PATH: cyberdbPath, CYBERDB_ENCRYPT: "0" }],
  ["redis unix", REDIS_APP, { REDIS_PATH: redisPath }],
] as const;
const figures = new Map<string, number[]>(
  ROUTES.flatMap((route) => variants.map(([name]) => [`${route} ${name}`, []] as [string, number[]])),
);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, script, env] of variants) {
      const served = await app(script, { ...env, CYBERDB_PASSWORD: PASSWORD });
      try {
        for (const route of ROUTES) {
          const [method, path] = route.split(" ");
          figures.get(`${route} ${name}`)!.push(await load(`${served.url}${path.slice(1)}`, method));
        }
      } finally {
        await served.stop();
      }
    }
  }
} finally {
  await cyberdb.close();
  await secret.close();
  await onSocket.close();
  await Deno.remove(POST_SCRIPT).catch(() => {});
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`4 workers (deno serve --parallel), 50 connections (wrk), median of ${ROUNDS} rounds`);
for (const route of ROUTES) {
  const m = (name: string) => median(figures.get(`${route} ${name}`)!);
  for (const [name] of variants) {
    const versus = name === "cyberdb tcp" || name === "redis tcp"
      ? `${(m(name) / m("redis tcp")).toFixed(2)}x redis tcp`
      : name === "cyberdb tcp encrypted"
      ? `${(m(name) / m("cyberdb tcp")).toFixed(2)}x cyberdb tcp plain`
      : `${(m(name) / m("redis unix")).toFixed(2)}x redis unix`;
    console.log(
      `${(route + " " + name).padEnd(36)}${Math.round(m(name)).toLocaleString("en-US").padStart(10)} req/s   ` +
        `${versus.padEnd(28)}rounds: ${figures.get(`${route} ${name}`)!.map(Math.round).join(", ")}`,
    );
  }
}
await Deno.remove(SOCKETS, { recursive: true }).catch(() => {});
