/**
 * Durability figures, cyberdb beside Redis in the same run:
 *
 * 1. write throughput with 50 concurrent clients for each journal fsync policy,
 *    beside `redis-server --appendonly yes --appendfsync …` driven by
 *    `redis-benchmark -c 50 -t set`;
 * 2. the longest pause a client sees while the server snapshots 1,000,000 entries;
 * 3. snapshot save and load times for 1,000,000 entries, beside Redis `SAVE`
 *    and its load at restart.
 *
 * ```sh
 * npx -y deno@2 task bench:durability
 * ```
 *
 * @module
 */
import { connect, Server } from "../mod.ts";
import { benchArgs } from "./_args.ts";
import { fillCyberdb, fillRedis, key } from "./_data.ts";
import { freePort, have, ROOT, run, startProcess } from "./_processes.ts";

benchArgs(
  `
Usage: deno task bench:durability

Write throughput per journal fsync policy beside Redis AOF, the longest client
pause during a snapshot of 1,000,000 entries, and snapshot save/load times beside
Redis SAVE. ENTRIES=<n> in the environment changes the data set size.

Options:
  -h, --help   show this help
`,
  {},
);

const CLIENTS = 50;
const ENTRIES = Number(Deno.env.get("ENTRIES") ?? 1_000_000);

async function cyberdbWrites(fsync: string, total: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "cyberdb_bench_" });
  const port = freePort();
  try {
    await using _server = await startProcess(
      Deno.execPath(),
      [
        "run",
        "-A",
        `${ROOT}server.ts`,
        "--port",
        String(port),
        "--journal",
        `${dir}/j`,
        "--fsync",
        fsync,
      ],
      /listening/,
    );
    const client = await connect({ port });
    try {
      const proxies = await Promise.all(
        Array.from({ length: CLIENTS }, () => client.getProxy().connect()),
      );
      await proxies[0].createCyberDict("bench");
      const dicts = await Promise.all(
        proxies.map((p) => p.getCyberDict("bench")),
      );
      let next = 0;
      const start = performance.now();
      await Promise.all(dicts.map(async (dict) => {
        for (let i = next++; i < total; i = next++) {
          await dict.set(key(i), "xxx");
        }
      }));
      const rate = total / ((performance.now() - start) / 1000);
      await Promise.all(proxies.map((p) => p.close()));
      return rate;
    } finally {
      await client.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function redisWrites(
  fsync: string,
  total: number,
): Promise<number | undefined> {
  if (!await have("redis-server")) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "redis_bench_" });
  const port = freePort();
  try {
    await using _server = await startProcess(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
      ],
      /Ready to accept connections/,
    );
    const out = await run("redis-benchmark", [
      "-p",
      String(port),
      "-c",
      String(CLIENTS),
      "-t",
      "set",
      "-q",
      "-n",
      String(total),
    ]);
    return Number(out.match(/SET:\s+([\d.]+) requests per second/)![1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Longest gap between replies of a client doing sequential gets while the server snapshots. */
async function snapshotStall(): Promise<{ stall: number; median: number }> {
  const dir = await Deno.makeTempDir({ prefix: "cyberdb_bench_" });
  const port = freePort();
  try {
    await using server = await startProcess(
      Deno.execPath(),
      [
        "run",
        "-A",
        `${ROOT}server.ts`,
        "--port",
        String(port),
        "--db",
        `${dir}/db.cdb`,
        "--backup-interval",
        "1",
      ],
      /listening/,
    );
    await fillCyberdb(port, ENTRIES);
    const client = await connect({ port });
    try {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.getCyberDict("big");
      const gaps: number[] = [];
      let last = performance.now();
      const until = last + 4500; // spans at least three backups of 1,000,000 entries
      while (performance.now() < until) {
        await dict.get(key(7));
        const now = performance.now();
        gaps.push(now - last);
        last = now;
      }
      gaps.sort((a, b) => a - b);
      void server;
      return { stall: gaps[gaps.length - 1], median: gaps[gaps.length >> 1] };
    } finally {
      await client.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Save and load times for ENTRIES entries, in this process. */
async function saveLoad(): Promise<
  { save: number; load: number; bytes: number }
> {
  const dir = await Deno.makeTempDir({ prefix: "cyberdb_bench_" });
  const server = new Server();
  try {
    const { port } = await server.start({ port: 0 });
    await fillCyberdb(port, ENTRIES);
    let start = performance.now();
    await server.save(`${dir}/db.cdb`);
    const save = performance.now() - start;
    const other = new Server();
    start = performance.now();
    await other.load(`${dir}/db.cdb`);
    const load = performance.now() - start;
    return { save, load, bytes: (await Deno.stat(`${dir}/db.cdb`)).size };
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function redisSaveLoad(): Promise<
  { save: number; load: number; bytes: number } | undefined
> {
  if (!await have("redis-server") || !await have("redis-cli")) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "redis_bench_" });
  const args = (
    port: number,
  ) => [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
  ];
  try {
    let port = freePort();
    let save: number;
    {
      await using _server = await startProcess(
        "redis-server",
        args(port),
        /Ready to accept connections/,
      );
      await fillRedis(port, ENTRIES);
      const start = performance.now();
      await run("redis-cli", ["-p", String(port), "SAVE"]);
      save = performance.now() - start;
    }
    port = freePort();
    const start = performance.now();
    await using _again = await startProcess(
      "redis-server",
      args(port),
      /Ready to accept connections/,
    );
    const load = performance.now() - start;
    return { save, load, bytes: (await Deno.stat(`${dir}/dump.rdb`)).size };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const fmt = (n: number | undefined, unit = "") =>
  (n === undefined ? "n/a" : `${Math.round(n).toLocaleString("en-US")}${unit}`)
    .padStart(12);
console.log(
  `durability benchmark (deno ${Deno.version.deno}, ${CLIENTS} clients, ${ENTRIES.toLocaleString()} entries)`,
);
console.log(
  `\nwrites/s with ${CLIENTS} clients     cyberdb       redis   cyberdb/redis`,
);
for (
  const [ours, theirs, total] of [["no", "no", 200_000], [
    "everysec",
    "everysec",
    200_000,
  ], [
    "always",
    "always",
    50_000,
  ]] as const
) {
  const a = await cyberdbWrites(ours, total);
  const b = await redisWrites(theirs, total);
  console.log(
    `fsync ${ours.padEnd(24)}${fmt(a)}${fmt(b)}${(b ? (a / b).toFixed(2) + "x" : "-").padStart(16)}`,
  );
}
const stall = await snapshotStall();
console.log(
  `\nwhile snapshotting ${ENTRIES.toLocaleString()} entries every second: longest pause between replies ` +
    `${stall.stall.toFixed(1)} ms (median round trip ${stall.median.toFixed(3)} ms)`,
);
const ours = await saveLoad();
const theirs = await redisSaveLoad();
console.log(
  `\n${ENTRIES.toLocaleString()} entries            cyberdb       redis`,
);
console.log(`save (ms)             ${fmt(ours.save)}${fmt(theirs?.save)}`);
console.log(
  `load (ms)             ${fmt(ours.load)}${fmt(theirs?.load)}   (redis: process start to ready, with the RDB load)`,
);
console.log(`file size (bytes)     ${fmt(ours.bytes)}${fmt(theirs?.bytes)}`);
