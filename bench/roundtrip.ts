/**
 * Round trips per second for one client against a server in another
 * process — sequential `get`, pipelined in batches of 100 (as
 * `redis-benchmark -P 100` does) and with a sliding window of 100 in flight —
 * plain and encrypted, beside `redis-benchmark -c 1` and `-P 100` against a
 * `redis-server` started the same way, in the same run.
 *
 * ```sh
 * npx -y deno@2 task bench:roundtrip
 * ```
 *
 * @module
 */
import { connect } from "../mod.ts";
import { benchArgs } from "./_args.ts";
import { freePort, have, ROOT, run, startProcess } from "./_processes.ts";

benchArgs(
  `
Usage: deno task bench:roundtrip

Round trips per second of one client against a server in another process
(sequential, pipelined by 100, a window of 100 in flight), plain and encrypted,
beside redis-benchmark -c 1 and -P 100.

Options:
  -h, --help   show this help
`,
  {},
);

const SEQUENTIAL = 20_000;
const PIPELINED = 200_000;
const DEPTH = 100;

interface Figures {
  sequential: number;
  batches: number;
  window?: number;
}

async function cyberdb(encrypt: boolean): Promise<Figures> {
  const port = freePort();
  await using _server = await startProcess(
    Deno.execPath(),
    ["run", "-A", `${ROOT}server.ts`, "--port", String(port), "--password", "bench", ...(encrypt ? ["--encrypt"] : [])],
    /listening/,
  );
  const client = await connect({ port, password: "bench", encrypt });
  try {
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict("bench");
    await dict.set("key", "xxx");
    for (let i = 0; i < 2000; i++) await dict.get("key"); // warm-up
    let start = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await dict.get("key");
    const sequential = SEQUENTIAL / ((performance.now() - start) / 1000);

    start = performance.now();
    for (let done = 0; done < PIPELINED; done += DEPTH) {
      const batch = new Array(DEPTH);
      for (let i = 0; i < DEPTH; i++) batch[i] = dict.get("key");
      await Promise.all(batch);
    }
    const batches = PIPELINED / ((performance.now() - start) / 1000);

    start = performance.now();
    let sent = 0;
    const lane = async () => {
      while (sent < PIPELINED) {
        sent++;
        await dict.get("key");
      }
    };
    await Promise.all(Array.from({ length: DEPTH }, lane));
    const window = PIPELINED / ((performance.now() - start) / 1000);
    return { sequential, batches, window };
  } finally {
    await client.close();
  }
}

async function redis(): Promise<Figures | undefined> {
  if (!await have("redis-server") || !await have("redis-benchmark")) return undefined;
  const port = freePort();
  await using _server = await startProcess(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    /Ready to accept connections/,
  );
  const rps = async (args: string[]) => {
    const out = await run("redis-benchmark", ["-p", String(port), "-t", "get", "-q", ...args]);
    const match = out.match(/GET:\s+([\d.]+) requests per second/);
    if (!match) throw new Error(`unexpected redis-benchmark output: ${out}`);
    return Number(match[1]);
  };
  return {
    sequential: await rps(["-c", "1", "-n", String(SEQUENTIAL)]),
    batches: await rps(["-c", "1", "-P", String(DEPTH), "-n", String(PIPELINED)]),
  };
}

const plain = await cyberdb(false);
const encrypted = await cyberdb(true);
const theirs = await redis();
const fmt = (n: number | undefined) => (n === undefined ? "n/a" : Math.round(n).toLocaleString("en-US")).padStart(10);
const ratio = (a: number | undefined, b: number | undefined) =>
  (a === undefined || b === undefined ? "-" : `${(a / b).toFixed(2)}x`).padStart(8);
console.log(`get round trips per second, one client, server in another process (deno ${Deno.version.deno})`);
console.log(
  `${"workload".padEnd(30)}${"plain".padStart(10)}${"encrypted".padStart(11)}${"redis".padStart(11)}` +
    `${"enc/plain".padStart(10)}${"plain/redis".padStart(12)}`,
);
const rows = [
  ["sequential (redis -c 1)", "sequential"],
  ["batches of 100 (redis -P 100)", "batches"],
  ["sliding window of 100", "window"],
] as const;
for (const [name, key] of rows) {
  console.log(
    `${name.padEnd(30)}${fmt(plain[key])} ${fmt(encrypted[key])} ${fmt(theirs?.[key])}` +
      `${ratio(encrypted[key], plain[key]).padStart(10)}${ratio(plain[key], theirs?.[key]).padStart(12)}`,
  );
}
if (!theirs) console.log("(redis-server / redis-benchmark not installed: apt-get install redis-server redis-tools)");
