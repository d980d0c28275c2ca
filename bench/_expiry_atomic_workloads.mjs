// Workloads of bench/expiry_atomic.ts, each run in its own process (cyberdb's client under Deno, ioredis under
// Node). Prints one JSON line.
//
//   <runtime> _expiry_atomic_workloads.mjs <system> <workload> <port> <module> [seconds]
//
// workloads: "increment" / "atomic" (50 clients; ops/s), "getter" (one sequential get client for `seconds`:
// prints each gap between replies over 1 ms as it happens, with when), "fill" (1,000,000 entries with an expiry of
// 2 s, plus 10,000 that never expire).

const args = globalThis.Deno?.args ?? process.argv.slice(2);
const [system, workload, portText, modulePath, secondsText] = args;
const port = Number(portText);
const PASSWORD = "bench-password";
const CLIENTS = 50;
const N = { increment: 200_000, atomic: 60_000 };
const key = (i) => `key:${String(i).padStart(12, "0")}`;
const value = (i) => `value:${String(i).padStart(26, "0")}`;

async function cyberdb() {
  const { connect } = await import(modulePath);
  return await connect({ port, password: PASSWORD, idleTimeout: 600_000 });
}

async function redisConnections(count) {
  const { default: Redis } = await import(modulePath);
  return await Promise.all(Array.from({ length: count }, async () => {
    const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, enableOfflineQueue: false });
    await redis.connect();
    return redis;
  }));
}

/** Runs `total` calls of `lane(i)`'s op spread over the lanes, each lane one after another. */
async function timed(lanes, total) {
  const started = performance.now();
  let next = 0;
  await Promise.all(lanes.map(async (op) => {
    while (next < total) await op(next++);
  }));
  return { ops: total, seconds: (performance.now() - started) / 1000 };
}

async function throughput() {
  const total = N[workload];
  if (system === "redis") {
    const connections = await redisConnections(CLIENTS);
    await connections[0].del("counter", "a", "b", "ledger");
    const lanes = connections.map((r) =>
      workload === "increment"
        ? () => r.incr("counter")
        : (i) => r.multi().incr("a").incr("b").rpush("ledger", String(i)).exec()
    );
    const result = await timed(lanes, total);
    await Promise.all(connections.map((r) => r.quit()));
    return result;
  }
  const client = await cyberdb();
  const proxies = await Promise.all(Array.from({ length: CLIENTS }, () => client.getProxy().connect()));
  const counters = await proxies[0].createCyberDict(`counters_${workload}`);
  const ledger = await proxies[0].createCyberList(`ledger_${workload}`);
  const lanes = await Promise.all(proxies.map(async (proxy) => {
    const d = await proxy.getCyberDict(counters.name), l = await proxy.getCyberList(ledger.name);
    return workload === "increment"
      ? () => d.increment("counter")
      : (i) => proxy.atomic().increment(d, "a").increment(d, "b").push(l, String(i)).commit();
  }));
  const result = await timed(lanes, total);
  for (const proxy of proxies) await proxy.close();
  await client.close();
  return result;
}

/** One sequential get client: every gap between replies over 1 ms, with the time it ended. */
async function getter() {
  const seconds = Number(secondsText);
  let get, close;
  if (system === "redis") {
    const [r] = await redisConnections(1);
    await r.set("steady", "1");
    get = () => r.get("steady");
    close = () => r.quit();
  } else {
    const client = await cyberdb();
    const proxy = await client.getProxy().connect();
    const d = await proxy.createCyberDict("steady");
    await d.set("steady", 1);
    get = () => d.get("steady");
    close = async () => {
      await proxy.close();
      await client.close();
    };
  }
  const end = Date.now() + seconds * 1000;
  let last = performance.now(), count = 0;
  console.error("getter ready");
  while (Date.now() < end) {
    await get();
    const now = performance.now();
    if (now - last > 1) console.log(JSON.stringify({ gap: [Date.now(), Math.round((now - last) * 100) / 100] }));
    last = now;
    count++;
  }
  await close();
  return { count };
}

async function fill() {
  if (system === "redis") {
    const [r] = await redisConnections(1);
    for (let start = 0; start < 10_000; start += 1000) {
      const p = r.pipeline();
      for (let i = start; i < start + 1000; i++) p.set(`keep:${key(i)}`, value(i));
      await p.exec();
    }
    for (let start = 0; start < 1_000_000; start += 10_000) {
      const p = r.pipeline();
      for (let i = start; i < start + 10_000; i++) p.set(key(i), value(i), "PX", 2000);
      await p.exec();
    }
    await r.quit();
    return { done: true };
  }
  const client = await cyberdb();
  const proxy = await client.getProxy().connect();
  const keep = await proxy.createCyberDict("keep");
  const big = await proxy.createCyberDict("big");
  await keep.update(Array.from({ length: 10_000 }, (_, i) => [key(i), value(i)]));
  const pending = [];
  for (let start = 0; start < 1_000_000; start += 10_000) {
    const entries = [];
    for (let i = start; i < start + 10_000; i++) entries.push([key(i), value(i)]);
    pending.push(big.update(entries, { expireIn: 2000 }));
    if (pending.length >= 8) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await proxy.close();
  await client.close();
  return { done: true };
}

const result = workload === "getter" ? await getter() : workload === "fill" ? await fill() : await throughput();
console.log(JSON.stringify(result));
globalThis.Deno?.exit(0);
