/**
 * The article's scenario as a benchmark: the example web app with 4 workers
 * (`deno serve --parallel`), 50 connections from `wrk` on `GET /`, reading
 * the shared value from (a) cyberdb, plain and encrypted, and (b) Redis via
 * ioredis — alternating over several rounds, in one run.
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
reading from cyberdb (plain and encrypted) and from Redis via ioredis, alternating.
Needs wrk, redis-server and redis-cli.

Options:
  --rounds <n>    rounds (default 3)
  --seconds <n>   seconds of load per round and side (default 10)
  -h, --help      show this help
`,
  { rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "10" } },
);
const ROUNDS = Number(flags.rounds), SECONDS = Number(flags.seconds);
const PASSWORD = "hWjYvVdqRC";

for (const tool of ["wrk", "redis-server", "redis-cli"]) {
  if (!await have(tool)) {
    console.error(`needs ${tool}: apt-get install wrk redis-server redis-tools`);
    Deno.exit(1);
  }
}

/** Requests per second that wrk measures against `url`. */
async function load(url: string): Promise<number> {
  await run("wrk", ["-t", "2", "-c", "50", "-d", "2s", url]); // warm-up
  const out = await run("wrk", ["-t", "2", "-c", "50", "-d", `${SECONDS}s`, url]);
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

const cyberdb = new Server();
const plainPort = (await cyberdb.start({ port: 0, password: PASSWORD })).port;
const secret = new Server();
const secretPort = (await secret.start({ port: 0, password: PASSWORD, encrypt: true })).port;
for (const [port, encrypt] of [[plainPort, false], [secretPort, true]] as const) {
  const client = await connect({ port, password: PASSWORD, encrypt });
  await using proxy = await client.getProxy().connect();
  await proxy.createCyberDict("centre", { content: "Hello CyberDB!" });
  await client.close();
}
const redisPort = freePort();
await using _redis = await startProcess(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  /Ready to accept connections/,
);
await run("redis-cli", ["-p", String(redisPort), "HSET", "centre", "content", "Hello CyberDB!"]);

const variants = [
  ["cyberdb", `${ROOT}examples/hello/app.ts`, { CYBERDB_PORT: String(plainPort), CYBERDB_ENCRYPT: "0" }],
  ["cyberdb encrypted", `${ROOT}examples/hello/app.ts`, { CYBERDB_PORT: String(secretPort), CYBERDB_ENCRYPT: "1" }],
  ["redis + ioredis", `${ROOT}bench/_redis_app.ts`, { REDIS_PORT: String(redisPort) }],
] as const;
const figures = new Map<string, number[]>(variants.map(([name]) => [name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, script, env] of variants) {
      const served = await app(script, { ...env, CYBERDB_PASSWORD: PASSWORD });
      try {
        figures.get(name)!.push(await load(served.url));
      } finally {
        await served.stop();
      }
    }
  }
} finally {
  await cyberdb.close();
  await secret.close();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const redisMedian = median(figures.get("redis + ioredis")!);
console.log(`GET / with 4 workers (deno serve --parallel), 50 connections (wrk), median of ${ROUNDS} rounds`);
for (const [name, values] of figures) {
  const m = median(values);
  console.log(
    `${name.padEnd(20)}${Math.round(m).toLocaleString("en-US").padStart(10)} req/s` +
      `   ${(m / redisMedian).toFixed(2)}x redis   rounds: ${values.map(Math.round).join(", ")}`,
  );
}
