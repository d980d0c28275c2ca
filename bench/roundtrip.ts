/**
 * Round trips per second for one client against a server in another
 * process: sequential `get`, and pipelined in batches of 100, beside
 * `redis-benchmark -c 1` and `-P 100` against a `redis-server` started the
 * same way, in the same run.
 *
 * ```sh
 * npx -y deno@2 task bench:roundtrip
 * ```
 *
 * @module
 */
import { connect } from "../mod.ts";
import { freePort, have, ROOT, run, startProcess } from "./_processes.ts";

const SEQUENTIAL = 20_000;
const PIPELINED = 200_000;
const DEPTH = 100;

async function cyberdb(): Promise<{ sequential: number; pipelined: number }> {
  const port = freePort();
  await using _server = await startProcess(
    Deno.execPath(),
    [
      "run",
      "-A",
      `${ROOT}server.ts`,
      "--port",
      String(port),
      "--password",
      "bench",
    ],
    /listening/,
  );
  const client = await connect({ port, password: "bench" });
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
    const pipelined = PIPELINED / ((performance.now() - start) / 1000);
    return { sequential, pipelined };
  } finally {
    await client.close();
  }
}

async function redis(): Promise<
  { sequential: number; pipelined: number } | undefined
> {
  if (!await have("redis-server") || !await have("redis-benchmark")) {
    return undefined;
  }
  const port = freePort();
  await using _server = await startProcess(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    /Ready to accept connections/,
  );
  const rps = async (args: string[]) => {
    const out = await run("redis-benchmark", [
      "-p",
      String(port),
      "-t",
      "get",
      "-q",
      ...args,
    ]);
    const match = out.match(/GET:\s+([\d.]+) requests per second/);
    if (!match) throw new Error(`unexpected redis-benchmark output: ${out}`);
    return Number(match[1]);
  };
  return {
    sequential: await rps(["-c", "1", "-n", String(SEQUENTIAL)]),
    pipelined: await rps([
      "-c",
      "1",
      "-P",
      String(DEPTH),
      "-n",
      String(PIPELINED),
    ]),
  };
}

const ours = await cyberdb();
const theirs = await redis();
const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10);
console.log(
  `round trips per second, one client, server in another process (${Deno.build.os}, deno ${Deno.version.deno})`,
);
console.log(`workload                     cyberdb      redis   cyberdb/redis`);
for (
  const [name, key] of [["get sequential (-c 1)", "sequential"], [
    "get pipelined (-P 100)",
    "pipelined",
  ]] as const
) {
  const r = theirs?.[key];
  console.log(
    `${name.padEnd(24)} ${fmt(ours[key])} ${r ? fmt(r) : "       n/a"}   ${r ? (ours[key] / r).toFixed(2) + "x" : "-"}`,
  );
}
if (!theirs) {
  console.log(
    "(redis-server / redis-benchmark not installed: apt-get install redis-server redis-tools)",
  );
}
