/**
 * The memory engine (`open()`) against what it replaces in a single process:
 * a plain `Map` with `structuredClone` on the way in and out (so values are
 * copies there too). Sequential get and set, one awaited op at a time, on the
 * values of `bench/compare.ts` (workloads 1 and 2: a 16-byte string read, a
 * 3-byte string written over 1,000 keys) and on a small object.
 *
 * ```sh
 * deno task bench:memory            # or: deno run -A bench/memory_engine.ts [--ops 100000]
 * ```
 *
 * Both sides run in the same process, alternating, after a warm-up; the
 * ratio is what to read on a shared machine.
 *
 * @module
 */
import { open } from "../mod.ts";
import { benchArgs } from "./_args.ts";

const flags = benchArgs(
  `
Usage: deno task bench:memory [options]

The memory engine (open()) beside a plain Map with structuredClone, in one
process: sequential get and set, alternating, after a warm-up.

Options:
  --ops <n>    operations per measurement (default 100000)
  -h, --help   show this help
`,
  { ops: { type: "string", default: "100000" } },
);
const OPS = Number(flags.ops);

const OBJECT = {
  user: 7,
  name: "Ada Lovelace",
  roles: ["admin", "dev"],
  active: true,
  since: new Date(0),
  score: 12.5,
};

interface Side {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
}

/** Ops per second of `count` sequential awaited calls of `op`. */
async function rate(count: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await op(i);
  return count / ((performance.now() - start) / 1000);
}

function mapSide(): Side {
  const map = new Map<string, unknown>();
  return {
    // deno-lint-ignore require-await
    async get(key) {
      return structuredClone(map.get(key));
    },
    // deno-lint-ignore require-await
    async set(key, value) {
      map.set(key, structuredClone(value));
    },
  };
}

const client = await open();
const proxy = await client.getProxy().connect();
const dict = await proxy.createCyberDict("bench");
const sides: Record<string, Side> = {
  "memory engine": { get: (key) => dict.get(key), set: (key, value) => dict.set(key, value) },
  "Map + structuredClone": mapSide(),
};

const workloads: [string, (side: Side) => (i: number) => Promise<unknown>][] = [
  ["get, 16-byte string", (side) => () => side.get("key")],
  ["set, 3-byte string", (side) => (i) => side.set(`k${i % 1000}`, "xxx")],
  ["get, small object", (side) => () => side.get("object")],
  ["set, small object", (side) => (i) => side.set(`o${i % 1000}`, OBJECT)],
];

const results: Record<string, Record<string, number>> = {};
for (const side of Object.values(sides)) {
  await side.set("key", "value-of-the-key");
  await side.set("object", OBJECT);
}
for (const [name, make] of workloads) {
  results[name] = {};
  for (const side of Object.values(sides)) await rate(Math.min(5000, OPS), make(side)); // warm-up
  for (const [sideName, side] of Object.entries(sides)) results[name][sideName] = await rate(OPS, make(side));
}
await proxy.close();
await client.close();

console.log(`${OPS} sequential ops each, ${Deno.build.os} ${navigator.userAgent}`);
console.log("workload".padEnd(24) + Object.keys(sides).map((s) => s.padStart(24)).join("") + "ratio".padStart(8));
for (const [name, bySide] of Object.entries(results)) {
  const [engine, map] = Object.values(bySide);
  console.log(
    name.padEnd(24) + Object.values(bySide).map((ops) => `${Math.round(ops).toLocaleString("en")} ops/s`.padStart(24))
      .join("") +
      `${(engine / map).toFixed(2)}x`.padStart(8),
  );
}
