/**
 * Expiry and atomic batches beside Redis, in one run (`deno task bench:expiry`):
 *
 * 1. Expiry: 10,000 entries that never expire, then 1,000,000 entries set with an expiry of 2 s
 *    (cyberdb: `update(…, { expireIn: 2000 })` on one dict; Redis: `SET … PX 2000` keys, as Redis 7.0 has no
 *    per-field TTL), then nothing. Server RSS before the load (empty + the 10,000), at the peak and 10 s after
 *    the load; the longest gap between replies of a concurrent sequential get client from the end of the load
 *    to 10 s after it (the expiry happens in that window).
 * 2. Throughput with 50 clients: `increment` beside `INCR`, and a 3-op atomic batch (increment, increment,
 *    push) beside `MULTI`/`EXEC` of `INCR`, `INCR`, `RPUSH` (ioredis).
 *
 * cyberdb's server and clients run under Deno, Redis's clients (ioredis) under Node. The machine is shared:
 * compare the two columns of one run, not runs.
 *
 * @module
 */
import { benchArgs } from "./_args.ts";
import { type Child, freePort, have, ROOT, run, startProcess } from "./_processes.ts";

const flags = benchArgs(
  `
Usage: deno run -A bench/expiry_atomic.ts [options]

Expiry and atomic batches beside Redis, in one run: 1,000,000 entries with an
expiry of 2 s (RSS before, at the peak, 10 s after; longest gap of a concurrent
get client), then increment and a 3-op atomic batch with 50 clients beside
INCR and MULTI/EXEC (ioredis). Needs redis-server and node.

Options:
  --only <part>       only expiry or throughput
  -h, --help          show this help
`,
  { only: { type: "string" } },
);

const PASSWORD = "bench-password";
const SCRIPT = `${ROOT}bench/_expiry_atomic_workloads.mjs`;
const CLIENTS_DIR = `${ROOT}bench/.clients`;

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

type System = "cyberdb" | "redis";

async function start(system: System): Promise<{ port: number; child: Child }> {
  const port = freePort();
  const child = system === "redis"
    ? await startProcess(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      /Ready to accept connections/,
    )
    : await startProcess(
      Deno.execPath(),
      ["run", "-A", `${ROOT}server.ts`, "--port", String(port), "--password", PASSWORD],
      /listening/,
    );
  return { port, child };
}

function workload(system: System, id: string, port: number, module: string, extra: string[] = []): Deno.ChildProcess {
  const args = [SCRIPT, system, id, String(port), module, ...extra];
  return new Deno.Command(system === "redis" ? "node" : Deno.execPath(), {
    args: system === "redis" ? args : ["run", "-A", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function output(child: Deno.ChildProcess): Promise<Record<string, unknown>> {
  const { stdout, stderr, success } = await child.output();
  if (!success) throw new Error(new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").pop()!);
}

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function expiry(system: System, module: string) {
  const { port, child } = await start(system);
  try {
    const pid = child.process.pid;
    const getter = workload(system, "getter", port, module, ["120"]);
    await sleep(3000); // the getter connected and warmed up
    const empty = rssOf(pid);
    let peak = empty;
    const sampler = setInterval(() => peak = Math.max(peak, rssOf(pid)), 50);
    const loadStart = Date.now();
    await output(workload(system, "fill", port, module));
    const loaded = Date.now();
    await sleep(10_000);
    const after = rssOf(pid);
    clearInterval(sampler);
    getter.kill("SIGTERM");
    const lines = new TextDecoder().decode((await getter.output()).stdout).trim().split("\n");
    const gaps = lines.filter((line) => line.startsWith('{"gap"')).map((line) => JSON.parse(line).gap as number[]);
    const window = gaps.filter(([at]) => at >= loaded && at <= loaded + 10_000);
    const longest = Math.max(0, ...window.map(([, ms]) => ms));
    return { empty, peak, after, longest, loadSeconds: (loaded - loadStart) / 1000 };
  } finally {
    await child[Symbol.asyncDispose]();
  }
}

async function throughput(system: System, module: string, id: string): Promise<number> {
  const { port, child } = await start(system);
  try {
    const { ops, seconds } = await output(workload(system, id, port, module)) as { ops: number; seconds: number };
    return ops / seconds;
  } finally {
    await child[Symbol.asyncDispose]();
  }
}

if (!await have("redis-server")) {
  console.error("needs redis-server: apt-get install redis-server");
  Deno.exit(1);
}
const modules: Record<System, string> = { cyberdb: `${ROOT}mod.ts`, redis: await ioredisEntry() };
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`.padStart(9);
const rows: string[] = [];
const results: Record<string, unknown> = {};
if (flags.only !== "throughput") {
  for (const system of ["cyberdb", "redis"] as const) {
    results[`expiry ${system}`] = await expiry(system, modules[system]);
  }
}
if (flags.only !== "expiry") {
  for (const id of ["increment", "atomic"]) {
    for (const system of ["cyberdb", "redis"] as const) {
      results[`${id} ${system}`] = await throughput(system, modules[system], id);
    }
  }
}
const e = (s: System) => results[`expiry ${s}`] as Awaited<ReturnType<typeof expiry>>;
rows.push(`                          cyberdb      Redis`);
if (results["expiry cyberdb"]) {
  for (const [label, field] of [["RSS before", "empty"], ["RSS peak", "peak"], ["RSS 10 s after", "after"]] as const) {
    rows.push(`${label.padEnd(24)}${mib(e("cyberdb")[field])}  ${mib(e("redis")[field])}`);
  }
  rows.push(
    `${"longest get pause".padEnd(24)}${`${e("cyberdb").longest} ms`.padStart(9)}  ${
      `${e("redis").longest} ms`.padStart(9)
    }`,
  );
  rows.push(
    `${"load of 1,000,000".padEnd(24)}${`${e("cyberdb").loadSeconds} s`.padStart(9)}  ${
      `${e("redis").loadSeconds} s`.padStart(9)
    }`,
  );
}
for (const [id, label] of [["increment", "increment / INCR"], ["atomic", "3-op batch / MULTI"]]) {
  if (results[`${id} cyberdb`] === undefined) continue;
  const ours = results[`${id} cyberdb`] as number, theirs = results[`${id} redis`] as number;
  rows.push(
    `${(label + ", ops/s").padEnd(24)}${Math.round(ours).toLocaleString("en-US").padStart(9)}  ${
      Math.round(theirs).toLocaleString("en-US").padStart(9)
    }  ${(ours / theirs).toFixed(2)}x`,
  );
}
console.log(rows.join("\n"));
console.log(JSON.stringify(results));
