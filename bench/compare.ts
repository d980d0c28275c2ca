/**
 * cyberdb beside Redis + ioredis on this machine, in one run: both servers
 * as separate processes on loopback, each workload run from a separate
 * client process (cyberdb's client; ioredis under Node), alternating
 * cyberdb, Redis, cyberdb, Redis … over several rounds. Prints, per
 * workload, the median ops/s of each and the ratio, as a table and as JSON
 * in bench/results/latest.json. The same workloads run again with both
 * servers on Unix sockets (ours `--unix`, Redis's `unixsocket`), and beside
 * workload 1 a bare echo round trip (bench/_echo.mjs) over TCP and over a
 * Unix socket, in Deno and in Node: the floor a sequential request cannot beat.
 *
 * ```sh
 * npx -y deno@2 task bench:compare                    # cyberdb under Deno
 * npx -y deno@2 task bench:compare --runtime node     # cyberdb's npm build under Node
 * npx -y deno@2 task bench:compare --server deno --client node   # mixed
 * npx -y deno@2 task bench:compare --rounds 7 --only get50,setPipelined
 * npx -y deno@2 task bench:compare --tcp-only                    # skip the Unix socket section
 * npx -y deno@2 task bench:compare --engine redis     # our Redis engine vs bare ioredis; Cluster vs one node
 * ```
 *
 * Needs `redis-server` and `redis-cli` (Debian: redis-server, redis-tools); installs
 * ioredis into bench/.clients (git-ignored) with npm on first use.
 *
 * @module
 */
import { benchArgs } from "./_args.ts";
import { fillCyberdb, fillRedis } from "./_data.ts";
import { type Child, freePort, have, ROOT, run, startProcess } from "./_processes.ts";

const flags = benchArgs(
  `
Usage: deno task bench:compare [options]

cyberdb beside Redis + ioredis, alternating over several rounds; prints the
median ops/s of each workload and the ratio, and writes bench/results/latest.json.

Options:
  --runtime deno|node   where cyberdb's server and client run (default deno)
  --server deno|node    where the server runs (default: --runtime)
  --client deno|node    where the benchmark client runs (default: --runtime)
  --rounds <n>          rounds of each workload (default 5)
  --only <a,b>          only these workloads (names as in the table)
  --entries <n>         entries of the memory workload (default 1000000)
  --tcp-only            skip the same workloads over Unix sockets
  --engine redis        instead: cyberdb's Redis engine beside bare ioredis on one
                        redis-server (workloads 1-6, both clients in --client's
                        runtime), then 50 clients on a 3-master Cluster vs one node;
                        writes bench/results/redis_engine.json
  -h, --help            show this help
`,
  {
    runtime: { type: "string", default: "deno" },
    rounds: { type: "string", default: "5" },
    only: { type: "string" },
    entries: { type: "string", default: "1000000" },
    server: { type: "string" },
    client: { type: "string" },
    "tcp-only": { type: "boolean", default: false },
    engine: { type: "string" },
  },
);
type Runtime = "deno" | "node";
const pick = (name: string | undefined): Runtime | undefined =>
  name === undefined ? undefined : name === "node" ? "node" : "deno";
/** Where cyberdb's server runs, and where its benchmark client runs (default: both in `--runtime`). */
const SERVER_RUNTIME: Runtime = pick(flags.server) ?? pick(flags.runtime)!;
const CLIENT_RUNTIME: Runtime = pick(flags.client) ?? pick(flags.runtime)!;
const RUNTIME = SERVER_RUNTIME === CLIENT_RUNTIME
  ? SERVER_RUNTIME
  : `${SERVER_RUNTIME} server, ${CLIENT_RUNTIME} client`;
const ROUNDS = Math.max(1, Number(flags.rounds));
const ENTRIES = Number(flags.entries);
const PASSWORD = "bench-password";

const WORKLOADS = [
  { id: "getSequential", name: "1. get, sequential, 1 client" },
  { id: "setSequential", name: "2. set, sequential, 1 client" },
  { id: "get50", name: "3. get, 50 clients" },
  { id: "setPipelined", name: "4. set, 100 in flight, 1 connection" },
  { id: "pushPop50", name: "5. list push+pop, 50 clients" },
  { id: "set1k50", name: "6. set 1 KiB values, 50 clients" },
] as const;
const ENCRYPTED = ["get50", "setPipelined"] as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function npmBuild(): Promise<{ entry: string; bin: string }> {
  const manifest = JSON.parse(
    await Deno.readTextFile(`${ROOT}npm/package.json`).catch(() => {
      throw new Error("no npm build: run `npx -y deno@2 task build:npm` first");
    }),
  );
  const dot = manifest.exports["."];
  const entry = typeof dot === "string" ? dot : dot.import?.default ?? dot.import ?? dot.default;
  const bin = typeof manifest.bin === "string" ? manifest.bin : manifest.bin["cyberdb-server"];
  return {
    entry: `${ROOT}npm/${entry.replace(/^\.\//, "")}`,
    bin: `${ROOT}npm/${bin.replace(/^\.\//, "")}`,
  };
}

const CLIENTS_DIR = `${ROOT}bench/.clients`;

/** Installs ioredis (git-ignored) on first use and returns the path of its entry module. */
async function ioredisEntry(): Promise<string> {
  const manifest = `${CLIENTS_DIR}/node_modules/ioredis/package.json`;
  try {
    await Deno.stat(manifest);
  } catch {
    await run("npm", ["install", "--prefix", CLIENTS_DIR, "--no-audit", "--no-fund", "--silent", "ioredis@^6"]);
  }
  const { main } = JSON.parse(await Deno.readTextFile(manifest));
  return `${CLIENTS_DIR}/node_modules/ioredis/${main ?? "index.js"}`;
}

const SOCKETS = await Deno.makeTempDir({ prefix: "cdb-bench-" });

/** Where a server listens: a TCP port, or a Unix socket path. */
type Where = number | string;

async function startCyberdb(
  encrypt: boolean,
  unix = false,
): Promise<{ port: Where; child: Child }> {
  const port = unix ? `${SOCKETS}/cyberdb-${encrypt ? "e" : "p"}.sock` : freePort();
  const flagsFor = [
    ...(unix ? ["--unix", String(port)] : ["--port", String(port)]),
    "--password",
    PASSWORD,
    ...(encrypt ? ["--encrypt"] : []),
  ];
  const child = SERVER_RUNTIME === "node"
    ? await startProcess(
      "node",
      [(await npmBuild()).bin, ...flagsFor],
      /listening/,
    )
    : await startProcess(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}server.ts`,
      ...flagsFor,
    ], /listening/);
  return { port, child };
}

async function startRedis(unix = false): Promise<{ port: Where; child: Child }> {
  const tcpPort = freePort();
  const path = `${SOCKETS}/redis.sock`;
  const port = unix ? path : tcpPort;
  const child = await startProcess(
    "redis-server",
    [
      "--port",
      unix ? "0" : String(tcpPort),
      ...(unix ? ["--unixsocket", path, "--unixsocketperm", "700"] : []),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    /[Rr]eady to accept connections/,
  );
  return { port, child };
}

async function runWorkload(
  system: "cyberdb" | "redis",
  id: string,
  port: Where,
  encrypt = false,
): Promise<number> {
  const script = `${ROOT}bench/_workloads.mjs`;
  const module = system === "redis"
    ? await ioredisEntry()
    : CLIENT_RUNTIME === "node"
    ? (await npmBuild()).entry
    : `${ROOT}mod.ts`;
  const extra = encrypt ? ["encrypt"] : [];
  const out = system === "redis" || CLIENT_RUNTIME === "node"
    ? await run("node", [script, system, id, String(port), module, ...extra])
    : await run(Deno.execPath(), [
      "run",
      "-A",
      script,
      system,
      id,
      String(port),
      module,
      ...extra,
    ]);
  const { ops, seconds } = JSON.parse(out.trim().split("\n").pop()!);
  return ops / seconds;
}

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
}

/** Round trips per second of a bare echo server and client in `runtime`, over TCP or a Unix socket. */
async function echoFloor(runtime: Runtime, unix: boolean): Promise<number> {
  const where = unix ? `${SOCKETS}/echo-${runtime}.sock` : String(freePort());
  const script = `${ROOT}bench/_echo.mjs`;
  const command = (role: string, ...rest: string[]) =>
    runtime === "node"
      ? ["node", [script, role, where, ...rest]] as const
      : [Deno.execPath(), ["run", "-A", script, role, where, ...rest]] as const;
  const [program, args] = command("server");
  await using _server = await startProcess(program, [...args], /listening/);
  const [clientProgram, clientArgs] = command("client", "20000");
  const { ops, seconds } = JSON.parse((await run(clientProgram, [...clientArgs])).trim().split("\n").pop()!);
  await Deno.remove(where).catch(() => {});
  return ops / seconds;
}

/** Runs the selected workloads against both servers, alternating, over TCP or Unix sockets; prints and records them. */
async function compareWorkloads(unix: boolean): Promise<void> {
  const suffix = unix ? "_unix" : "";
  const ours = await startCyberdb(false, unix);
  const theirs = await startRedis(unix);
  try {
    for (const w of selected) {
      const a: number[] = [], b: number[] = [];
      const floors = new Map<Runtime, number[]>([["deno", []], ["node", []]]);
      for (let round = 0; round < ROUNDS; round++) {
        a.push(await runWorkload("cyberdb", w.id, ours.port));
        b.push(await runWorkload("redis", w.id, theirs.port));
        if (w.id === "getSequential") {
          for (const [runtime, values] of floors) values.push(await echoFloor(runtime, unix));
        }
      }
      const ratio = median(a) / median(b);
      results[w.id + suffix] = {
        name: w.name,
        transport: unix ? "unix" : "tcp",
        cyberdb: median(a),
        redis: median(b),
        ratio,
        rounds: { cyberdb: a, redis: b },
      };
      console.log(
        `${w.name.padEnd(38)}${fmt(median(a))}${fmt(median(b))}${ratio.toFixed(2).padStart(7)}x`,
      );
      if (w.id === "getSequential") {
        const floor = Object.fromEntries([...floors].map(([runtime, values]) => [runtime, median(values)]));
        (results[w.id + suffix] as Record<string, unknown>).echoFloor = {
          ...floor,
          rounds: Object.fromEntries(floors),
        };
        console.log(
          `${"   floor: bare echo, deno".padEnd(38)}${fmt(floor.deno)}${"".padStart(11)}${
            (median(a) / floor[CLIENT_RUNTIME]).toFixed(2).padStart(7)
          }x  (workload 1 / ${CLIENT_RUNTIME} floor)`,
        );
        console.log(`${"   floor: bare echo, node".padEnd(38)}${fmt(floor.node)}`);
      }
    }
  } finally {
    await ours.child[Symbol.asyncDispose]();
    await theirs.child[Symbol.asyncDispose]();
  }
}

async function memory(): Promise<{ cyberdb: number; redis: number }> {
  const ours = await startCyberdb(false);
  const theirs = await startRedis();
  try {
    await fillCyberdb(ours.port as number, ENTRIES, PASSWORD);
    await fillRedis(theirs.port as number, ENTRIES);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // let both settle (GC, allocator)
    return {
      cyberdb: rssOf(ours.child.process.pid),
      redis: rssOf(theirs.child.process.pid),
    };
  } finally {
    await ours.child[Symbol.asyncDispose]();
    await theirs.child[Symbol.asyncDispose]();
  }
}

if (!await have("redis-server") || !await have("redis-cli")) {
  console.error(
    "needs redis-server and redis-cli: apt-get install redis-server redis-tools",
  );
  Deno.exit(1);
}
await ioredisEntry();
if (flags.engine === "redis") {
  const { compareRedisEngine } = await import("./_redis_engine.ts");
  const only = flags.only?.split(",");
  const figures = await compareRedisEngine({
    runtime: CLIENT_RUNTIME,
    rounds: ROUNDS,
    workloads: WORKLOADS.filter((w) => !only || only.includes(w.id)),
    npmEntry: async () => (await npmBuild()).entry,
    ioredisEntry,
  });
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  await Deno.writeTextFile(
    `${ROOT}bench/results/redis_engine.json`,
    JSON.stringify({ runtime: CLIENT_RUNTIME, rounds: ROUNDS, date: new Date().toISOString(), figures }, null, 2) +
      "\n",
  );
  console.log(`\nJSON: bench/results/redis_engine.json`);
  Deno.exit(0);
}
const only = flags.only?.split(",");
const selected = WORKLOADS.filter((w) => !only || only.includes(w.id));
const results: Record<string, unknown> = {};
const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(11);

console.log(
  `cyberdb (${RUNTIME}) vs Redis + ioredis (node), median of ${ROUNDS} alternating rounds, ops/s`,
);
console.log(
  `${"workload".padEnd(38)}${"cyberdb".padStart(11)}${"redis".padStart(11)}${"ratio".padStart(8)}`,
);
console.log("over TCP (loopback)");
await compareWorkloads(false);
if (!flags["tcp-only"] && selected.length > 0) {
  console.log("\nover Unix sockets (cyberdb --unix, Redis unixsocket)");
  await compareWorkloads(true);
}
const encryptedSelected = ENCRYPTED.filter((id) => !only || only.includes(id) || only.includes("encrypted"));
if (encryptedSelected.length > 0) {
  console.log(
    `\n7. encrypted (Redis has no equivalent: ratio to our plain figure, alternating plain/encrypted)`,
  );
  const plain = await startCyberdb(false);
  const secret = await startCyberdb(true);
  try {
    for (const id of encryptedSelected) {
      const p: number[] = [], e: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        p.push(await runWorkload("cyberdb", id, plain.port));
        e.push(await runWorkload("cyberdb", id, secret.port, true));
      }
      const ratio = median(e) / median(p);
      const name = WORKLOADS.find((w) => w.id === id)!.name.slice(3);
      results[`encrypted_${id}`] = {
        name,
        plain: median(p),
        encrypted: median(e),
        ratio,
        rounds: { plain: p, encrypted: e },
      };
      console.log(
        `${("7. " + name + ", encrypted").padEnd(38)}${fmt(median(e))}${fmt(median(p))}${
          ratio.toFixed(2).padStart(7)
        }x  (encrypted, plain)`,
      );
    }
  } finally {
    await plain.child[Symbol.asyncDispose]();
    await secret.child[Symbol.asyncDispose]();
  }
}
if (!only || only.includes("memory")) {
  const rss = await memory();
  const ratio = rss.cyberdb / rss.redis;
  results.memory = {
    entries: ENTRIES,
    cyberdbRss: rss.cyberdb,
    redisRss: rss.redis,
    ratio,
  };
  console.log(
    `\n8. memory, ${ENTRIES.toLocaleString()} entries (16 B keys, 32 B values): server RSS cyberdb ` +
      `${(rss.cyberdb / 2 ** 20).toFixed(0)} MiB, Redis ${(rss.redis / 2 ** 20).toFixed(0)} MiB, ratio ${
        ratio.toFixed(2)
      }x`,
  );
}
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
await Deno.writeTextFile(
  `${ROOT}bench/results/latest.json`,
  JSON.stringify(
    {
      runtime: RUNTIME,
      rounds: ROUNDS,
      date: new Date().toISOString(),
      results,
    },
    null,
    2,
  ) + "\n",
);
await Deno.remove(SOCKETS, { recursive: true }).catch(() => {});
console.log(`\nJSON: bench/results/latest.json`);
