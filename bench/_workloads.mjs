// One benchmark workload against one server, run in its own process by bench/compare.ts.
// Runs under Deno and Node alike. Prints one JSON line: { ops, seconds } or { rss } for memory.
//
//   <runtime> _workloads.mjs <system> <workload> <port | /unix/socket/path> <module> [encrypt]
//
// system: "cyberdb" (module = path of mod.ts or of the npm build entry), "redis" (module = path of ioredis, or
// npm:ioredis@^6 under Deno), or "cyberdb-redis": cyberdb's Redis engine (connectRedis; module as for cyberdb) on
// the Redis at <port>, or on the Cluster whose nodes are <port>,<port>,…

const args = globalThis.Deno?.args ?? process.argv.slice(2);
const [system, workload, portText, modulePath, encryptFlag] = args;
const path = portText.startsWith("/") ? portText : undefined; // a Unix socket instead of TCP
const port = Number(portText);
const encrypt = encryptFlag === "encrypt";
const PASSWORD = "bench-password";

// CYBERDB_BENCH_SCALE=0.1 runs a tenth of each workload (a quick look on a busy machine).
const SCALE = Number(
  (globalThis.Deno?.env.get("CYBERDB_BENCH_SCALE") ?? globalThis.process?.env.CYBERDB_BENCH_SCALE) || 1,
);
const N = {
  getSequential: 20_000,
  setSequential: 20_000,
  get50: 200_000,
  setPipelined: 200_000,
  pushPop50: 100_000,
  set1k50: 100_000,
  setSpread50: 100_000,
};
// setSpread50: each of the 50 clients on its own table (in a Cluster, spread over the nodes).
const SPREAD = workload === "setSpread50";
const KIB = "x".repeat(1024);

/** A uniform face over both clients: a "connection" with dict and list operations. */
async function open(count) {
  if (system === "redis") {
    const { default: Redis } = await import(modulePath);
    const connections = await Promise.all(
      Array.from({ length: count }, async () => {
        const redis = new Redis({
          ...(path === undefined ? { port, host: "127.0.0.1" } : { path }),
          lazyConnect: true,
          enableOfflineQueue: false,
        });
        await redis.connect();
        return redis;
      }),
    );
    return {
      lanes: connections.map((r, i) => ({
        get: (k) => r.hget("bench", k),
        set: (k, v) => r.hset(SPREAD ? `bench${i}` : "bench", k, v),
        push: (v) => r.rpush("list", v),
        pop: () => r.rpop("list"),
      })),
      seed: (k, v) => connections[0].hset("bench", k, v),
      close: () => Promise.all(connections.map((r) => r.quit())),
    };
  }
  const { connect, connectRedis } = await import(modulePath);
  const client = system === "cyberdb-redis"
    ? await connectRedis(
      portText.includes(",")
        ? { cluster: portText.split(",").map((p) => `127.0.0.1:${p}`) }
        : { url: `redis://127.0.0.1:${port}` },
    )
    : await connect({
      ...(path === undefined ? { port } : { path }),
      password: PASSWORD,
      encrypt,
      idleTimeout: 600_000,
    });
  const proxies = await Promise.all(
    Array.from({ length: count }, () => client.getProxy().connect()),
  );
  const dict = await proxies[0].createCyberDict("bench").catch(() => proxies[0].getCyberDict("bench"));
  await proxies[0].createCyberList("list").catch(() => {});
  const lanes = await Promise.all(proxies.map(async (p, i) => {
    const name = SPREAD ? `bench${i}` : "bench";
    if (SPREAD) await p.createCyberDict(name).catch(() => {});
    const d = await p.getCyberDict(name), l = await p.getCyberList("list");
    return {
      get: (k) => d.get(k),
      set: (k, v) => d.set(k, v),
      push: (v) => l.push(v),
      pop: () => l.pop(),
    };
  }));
  return {
    lanes,
    seed: (k, v) => dict.set(k, v),
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
      await client.close();
    },
  };
}

/** Runs `total` operations spread over lanes, each lane sequential; returns seconds taken. */
async function drive(lanes, total, op) {
  let next = 0;
  const start = performance.now();
  await Promise.all(lanes.map(async (lane) => {
    for (let i = next++; i < total; i = next++) await op(lane, i);
  }));
  return (performance.now() - start) / 1000;
}

async function main() {
  const plan = {
    getSequential: [1, N.getSequential, (l) => l.get("key")],
    setSequential: [1, N.setSequential, (l, i) => l.set(`k${i % 1000}`, "xxx")],
    get50: [50, N.get50, (l) => l.get("key")],
    // 100 requests in flight on ONE connection: 100 lanes sharing the first connection.
    setPipelined: [
      1,
      N.setPipelined,
      (l, i) => l.set(`k${i % 1000}`, "xxx"),
      100,
    ],
    pushPop50: [50, N.pushPop50, async (l, i) => {
      await l.push(`v${i}`);
      await l.pop();
    }],
    set1k50: [50, N.set1k50, (l, i) => l.set(`k${i % 1000}`, KIB)],
    setSpread50: [50, N.setSpread50, (l, i) => l.set(`k${i % 1000}`, "xxx")],
  }[workload];
  if (!plan) throw new Error(`unknown workload ${workload}`);
  const [connections, planned, op, inFlight] = plan;
  const total = Math.max(100, Math.round(planned * SCALE));
  const db = await open(connections);
  try {
    await db.seed("key", "value-of-the-key");
    const lanes = inFlight ? Array.from({ length: inFlight }, () => db.lanes[0]) : db.lanes;
    await drive(lanes, Math.min(2000, total), op); // warm-up
    const seconds = await drive(lanes, total, op);
    console.log(JSON.stringify({ ops: total, seconds }));
  } finally {
    await db.close();
  }
}

await main();
