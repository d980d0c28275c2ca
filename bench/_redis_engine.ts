/**
 * `bench:compare --engine redis`: cyberdb's Redis engine (`connectRedis`)
 * beside bare ioredis on the same redis-server, workloads 1–6, both clients
 * in the same runtime, alternating over rounds; then 50 clients of the
 * Redis engine on a local Cluster of 3 masters beside the same on one
 * redis-server. Each run is its own client process (bench/_workloads.mjs).
 *
 * @module
 */
import { type Child, freePort, ROOT, run, startProcess } from "./_processes.ts";

/** What {@link compareRedisEngine} needs from compare.ts. */
export interface RedisEngineBench {
  /** Where the clients run. */
  runtime: "deno" | "node";
  /** Rounds per workload (the median is reported). */
  rounds: number;
  /** The workloads to run, by id and name. */
  workloads: readonly { id: string; name: string }[];
  /** The npm build's entry (for `node`). */
  npmEntry(): Promise<string>;
  /** The installed ioredis entry (for `node`). */
  ioredisEntry(): Promise<string>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function redisArgs(port: number, cluster: boolean, dir: string): string[] {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  if (cluster) args.push("--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`);
  return args;
}

async function startNodes(count: number, cluster: boolean): Promise<{ ports: number[]; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "cyberdb_bench_redis_" });
  const children: Child[] = [];
  const close = async () => {
    for (const child of children) await child[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const port = freePort();
      ports.push(port);
      children.push(await startProcess("redis-server", redisArgs(port, cluster, dir), /Ready to accept connections/));
    }
    if (cluster) {
      await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-yes"]);
      for (let i = 0; i < 300; i++) {
        const states = await Promise.all(ports.map((p) => run("redis-cli", ["-p", String(p), "cluster", "info"])));
        if (states.every((info) => info.includes("cluster_state:ok"))) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return { ports, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function workload(
  options: RedisEngineBench,
  system: "cyberdb-redis" | "redis",
  id: string,
  ports: number[],
): Promise<number> {
  const script = `${ROOT}bench/_workloads.mjs`;
  const node = options.runtime === "node";
  const module = system === "redis"
    ? node ? await options.ioredisEntry() : "npm:ioredis@^6"
    : node
    ? await options.npmEntry()
    : `${ROOT}mod.ts`;
  const args = [script, system, id, ports.join(","), module];
  const out = node ? await run("node", args) : await run(Deno.execPath(), ["run", "-A", ...args]);
  const { ops, seconds } = JSON.parse(out.trim().split("\n").pop()!);
  return ops / seconds;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(11);

/**
 * Runs both comparisons and prints them.
 *
 * @returns the figures, for bench/results/latest.json
 */
export async function compareRedisEngine(options: RedisEngineBench): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  console.log(
    `cyberdb's Redis engine vs bare ioredis, same redis-server, both under ${options.runtime}, ` +
      `median of ${options.rounds} alternating rounds, ops/s`,
  );
  console.log(`${"workload".padEnd(38)}${"engine".padStart(11)}${"ioredis".padStart(11)}${"ratio".padStart(8)}`);
  const single = await startNodes(1, false);
  try {
    for (const w of options.workloads) {
      const a: number[] = [], b: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        a.push(await workload(options, "cyberdb-redis", w.id, single.ports));
        b.push(await workload(options, "redis", w.id, single.ports));
      }
      const ratio = median(a) / median(b);
      results[w.id] = { name: w.name, engine: median(a), ioredis: median(b), ratio, rounds: { engine: a, ioredis: b } };
      console.log(`${w.name.padEnd(38)}${fmt(median(a))}${fmt(median(b))}${ratio.toFixed(2).padStart(7)}x`);
    }
  } finally {
    await single.close();
  }

  console.log(`\nRedis engine, 50 clients: a local Cluster of 3 masters vs one redis-server, ops/s`);
  console.log(`${"workload".padEnd(38)}${"cluster".padStart(11)}${"one node".padStart(11)}${"ratio".padStart(8)}`);
  const spread = [
    { id: "setSpread50", name: "set, 50 clients, a table each" },
    { id: "get50", name: "get, 50 clients, one table" },
  ];
  const one = await startNodes(1, false), three = await startNodes(3, true);
  try {
    for (const w of spread) {
      const a: number[] = [], b: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        a.push(await workload(options, "cyberdb-redis", w.id, three.ports));
        b.push(await workload(options, "cyberdb-redis", w.id, one.ports));
      }
      const ratio = median(a) / median(b);
      results[`cluster_${w.id}`] = { name: w.name, cluster: median(a), single: median(b), ratio };
      console.log(`${w.name.padEnd(38)}${fmt(median(a))}${fmt(median(b))}${ratio.toFixed(2).padStart(7)}x`);
    }
  } finally {
    await one.close();
    await three.close();
  }
  return results;
}
