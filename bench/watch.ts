/**
 * Change feeds beside Redis pub/sub, in one run: a cyberdb server
 * (`server.ts`) and `redis-server` as separate processes on loopback; in
 * this process, a publisher and 1, 10 or 100 watchers, each watcher on a
 * connection of its own. cyberdb: `dict.set("k", { at, i })` → every
 * `dict.watch()`. Redis: `PUBLISH ch "<at> <i>"` → every ioredis subscriber.
 * Rounds alternate cyberdb, Redis, cyberdb, Redis …; figures are medians.
 *
 * - throughput: changes delivered per second, summed over the watchers; the
 *   publisher keeps at most 100 publishes waiting for their reply and at most
 *   `--window` changes not yet delivered to every watcher (so neither side is
 *   measured dropping a slow subscriber)
 * - latency: one change at a time, the next once every watcher has it; from
 *   just before the `set` / `PUBLISH` to each delivery, median and p99
 *
 * ```sh
 * deno run -A bench/watch.ts                 # 3 rounds
 * deno run -A bench/watch.ts --rounds 1 --watchers 10
 * ```
 *
 * Needs `redis-server` (Debian: redis-server).
 *
 * @module
 */
import { benchArgs } from "./_args.ts";
// A benchmark-only dependency, kept out of deno.json so it never becomes one of the npm package's.
import { Redis } from "ioredis";
import { connect } from "../mod.ts";
import { type Child, freePort, have, ROOT, startProcess } from "./_processes.ts";

const flags = benchArgs(
  `
Usage: deno run -A bench/watch.ts [options]

Change feeds beside Redis pub/sub: throughput and latency to 1, 10 or 100
watchers, rounds alternating cyberdb and Redis. Needs redis-server.

Options:
  --rounds <n>        rounds (default 3)
  --watchers <a,b>    watcher counts (default 1,10,100)
  --deliveries <n>    deliveries per throughput measurement (default 200000)
  --window <n>        changes not yet delivered to every watcher, at most (default 1000)
  --samples <n>       latency samples (default 1000)
  --only <system>     only cyberdb or redis
  -h, --help          show this help
`,
  {
    rounds: { type: "string", default: "3" },
    watchers: { type: "string", default: "1,10,100" },
    deliveries: { type: "string", default: "200000" },
    window: { type: "string", default: "1000" },
    samples: { type: "string", default: "1000" },
    only: { type: "string" },
  },
);
const ROUNDS = Math.max(1, Number(flags.rounds));
const WATCHERS = flags.watchers.split(",").map(Number);
/** Deliveries per throughput measurement (changes × watchers), at most 50,000 changes. */
const DELIVERIES = Number(flags.deliveries);
const WINDOW = Number(flags.window);
const SAMPLES = Number(flags.samples);

/** One system under test: publish change `i`, and subscribe watchers that call `deliver(i, at)`. */
interface System {
  name: string;
  subscribe(watchers: number, deliver: (watcher: number, i: number, at: number) => void): Promise<() => Promise<void>>;
  publish(i: number): Promise<unknown>;
  close(): Promise<void>;
}

async function cyberdb(port: number): Promise<System> {
  const client = await connect({ port });
  const proxy = await client.getProxy().connect();
  const dict = await proxy.createCyberDict<{ at: number; i: number }>(`feed_${crypto.randomUUID().slice(0, 8)}`);
  return {
    name: "cyberdb watch()",
    async subscribe(watchers, deliver) {
      const clients = await Promise.all(Array.from({ length: watchers }, () => connect({ port })));
      const streams = await Promise.all(clients.map(async (c) => {
        const p = await c.getProxy().connect();
        return (await p.getCyberDict<{ at: number; i: number }>(dict.name)).watch({ buffer: 256 * 1024 * 1024 });
      }));
      const loops = streams.map(async (stream, w) => {
        for await (const change of stream) {
          if (change.op === "set") deliver(w, change.value.i, change.value.at);
        }
      });
      return async () => {
        for (const stream of streams) await stream.return();
        await Promise.all(loops);
        for (const c of clients) await c.close();
      };
    },
    publish: (i) => dict.set("k", { at: performance.now(), i }),
    async close() {
      await proxy.deleteTable(dict.name);
      await client.close();
    },
  };
}

async function redis(port: number): Promise<System> {
  const publisher = new Redis({ host: "127.0.0.1", port });
  await publisher.ping();
  const channel = `feed_${crypto.randomUUID().slice(0, 8)}`;
  return {
    name: "Redis PUBLISH → ioredis",
    async subscribe(watchers, deliver) {
      const subscribers = Array.from({ length: watchers }, () => new Redis({ host: "127.0.0.1", port }));
      await Promise.all(subscribers.map(async (sub, w) => {
        sub.on("message", (_channel: string, message: string) => {
          const space = message.indexOf(" ");
          deliver(w, Number(message.slice(space + 1)), Number(message.slice(0, space)));
        });
        await sub.subscribe(channel);
      }));
      return async () => {
        await Promise.all(subscribers.map((sub) => sub.quit()));
      };
    },
    publish: (i) => publisher.publish(channel, `${performance.now()} ${i}`),
    async close() {
      await publisher.quit();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Changes delivered per second to `watchers` watchers, the publisher at most `WINDOW` changes ahead. */
async function throughput(system: System, watchers: number): Promise<number> {
  const changes = Math.min(50_000, Math.ceil(DELIVERIES / watchers));
  const counts = new Array(watchers).fill(0);
  let delivered = 0;
  let wake: (() => void) | undefined;
  const stop = await system.subscribe(watchers, (w) => {
    counts[w]++;
    if (++delivered % watchers === 0) wake?.();
  });
  const slowest = () => counts.reduce((a, b) => Math.min(a, b), Infinity);
  const started = performance.now();
  // At most 100 publishes waiting for their reply, and at most WINDOW changes not yet delivered everywhere.
  let inFlight = 0;
  const replied = () => {
    inFlight--;
    wake?.();
  };
  for (let i = 0; i < changes; i++) {
    while (inFlight >= 100 || i - slowest() >= WINDOW) await new Promise<void>((resolve) => wake = resolve);
    inFlight++;
    system.publish(i).then(replied);
  }
  while (inFlight > 0 || slowest() < changes) await new Promise<void>((resolve) => wake = resolve);
  const seconds = (performance.now() - started) / 1000;
  await stop();
  return (changes * watchers) / seconds;
}

/** Milliseconds from publishing to each delivery, one change at a time. */
async function latency(system: System, watchers: number): Promise<number[]> {
  const delays: number[] = [];
  let pending = 0;
  let done: (() => void) | undefined;
  const stop = await system.subscribe(watchers, (_w, _i, at) => {
    delays.push(performance.now() - at);
    if (--pending === 0) done?.();
  });
  const samples = Math.max(50, Math.ceil(SAMPLES / watchers));
  for (let i = 0; i < samples; i++) {
    pending = watchers;
    const all = new Promise<void>((resolve) => done = resolve);
    await system.publish(i);
    await all;
  }
  await stop();
  return delays;
}

async function startServers(): Promise<{ cyberdbPort: number; redisPort: number; children: Child[] }> {
  const cyberdbPort = freePort(), redisPort = freePort();
  const children = [
    await startProcess(Deno.execPath(), ["run", "-A", `${ROOT}server.ts`, "--port", String(cyberdbPort)], /listening/),
    await startProcess("redis-server", [
      "--port",
      String(redisPort),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ], /Ready to accept connections/),
  ];
  return { cyberdbPort, redisPort, children };
}

if (!await have("redis-server")) {
  console.error("bench/watch.ts needs redis-server on PATH (Debian: apt-get install redis-server)");
  Deno.exit(1);
}
const { cyberdbPort, redisPort, children } = await startServers();
try {
  const systems = [await cyberdb(cyberdbPort), await redis(redisPort)]
    .filter((system) => flags.only === undefined || system.name.toLowerCase().startsWith(flags.only));
  // Warm up both sides (JIT, connection setup) once, uncounted.
  for (const system of systems) await throughput(system, 10).then(() => latency(system, 10));
  const rates = new Map<string, number[]>(), delays = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const watchers of WATCHERS) {
      for (const system of systems) {
        const key = `${system.name}|${watchers}`;
        const rate = await throughput(system, watchers);
        (rates.get(key) ?? rates.set(key, []).get(key)!).push(rate);
        (delays.get(key) ?? delays.set(key, []).get(key)!).push(...await latency(system, watchers));
        console.error(`round ${round + 1}: ${system.name}, ${watchers} watchers: ${rate.toFixed(0)} changes/s`);
      }
    }
  }
  const rows = [];
  for (const watchers of WATCHERS) {
    const row: Record<string, number | string> = { watchers };
    for (const system of systems) {
      const key = `${system.name}|${watchers}`;
      const sorted = delays.get(key)!.sort((a, b) => a - b);
      const short = system.name.startsWith("cyberdb") ? "cyberdb" : "redis";
      row[`${short} changes/s`] = Math.round(median(rates.get(key)!));
      row[`${short} p50 ms`] = Number(percentile(sorted, 0.5).toFixed(3));
      row[`${short} p99 ms`] = Number(percentile(sorted, 0.99).toFixed(3));
    }
    row["ratio (cyberdb / redis)"] = Number(
      (Number(row["cyberdb changes/s"]) / Number(row["redis changes/s"])).toFixed(2),
    );
    rows.push(row);
  }
  console.table(rows);
  console.log(JSON.stringify({ rounds: ROUNDS, window: WINDOW, deliveries: DELIVERIES, rows }));
  for (const system of systems) await system.close();
} finally {
  for (const child of children) await child[Symbol.asyncDispose]();
}
