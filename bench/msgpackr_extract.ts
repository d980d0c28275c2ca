/**
 * What the optional native string extractor of msgpackr (`msgpackr-extract`)
 * gains here: pack and unpack rates of typical cyberdb bodies (per second of
 * CPU time), with the extractor (if it loads) and without it, alternating
 * child processes, best of 4 each.
 *
 * ```sh
 * deno run -A bench/msgpackr_extract.ts          # runs both sides, prints the ratios
 * ```
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { benchArgs } from "./_args.ts";

const values = benchArgs(
  `
Usage: deno run -A bench/msgpackr_extract.ts

Pack and unpack rates of typical bodies with and without msgpackr's native
string extractor (MSGPACKR_NATIVE_ACCELERATION_DISABLED=true), alternating child
processes, and the ratio per body.

Options:
  -h, --help   show this help
`,
  { side: { type: "string" } },
);

if (values.side !== undefined) {
  const { isNativeAccelerationEnabled, Packr } = await import("msgpackr");
  const packr = new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, copyBuffers: true });
  const bodies: Record<string, unknown> = {
    "get reply: 32-byte string": [1, 0, "x".repeat(32)],
    "get reply: 1 KiB object": [1, 0, { name: "Ada Lovelace", bio: "é".repeat(400), tags: ["a", "b", "c"] }],
    "keys reply: 1,000 keys": [1, 0, Array.from({ length: 1000 }, (_, i) => `user:${i}:session`)],
    "toArray reply: 100 objects": [1, 0, Array.from({ length: 100 }, (_, i) => ({ id: i, name: `user ${i}` }))],
  };
  const rates: Record<string, { pack: number; unpack: number }> = {};
  for (const [name, body] of Object.entries(bodies)) {
    const bytes = packr.pack(body);
    // Operations per second of this process's CPU time: the machine is shared, and wall time counts the others too.
    const rate = (f: () => unknown) => {
      for (let i = 0; i < 2000; i++) f();
      let n = 0;
      const start = cpuUsage();
      const used = () => {
        const { user, system } = cpuUsage(start);
        return (user + system) / 1e6;
      };
      while (used() < 0.3) for (let i = 0; i < 100; i++, n++) f();
      return n / used();
    };
    rates[name] = { pack: rate(() => packr.pack(body)), unpack: rate(() => packr.unpack(bytes)) };
  }
  console.log(JSON.stringify({ native: isNativeAccelerationEnabled, rates }));
  Deno.exit(0);
}

interface Side {
  native: boolean;
  rates: Record<string, { pack: number; unpack: number }>;
}

async function side(disabled: boolean): Promise<Side> {
  const env: Record<string, string> = disabled ? { MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true" } : {};
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--side", disabled ? "off" : "on"],
    env,
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout)) as Side;
}

const runs: Side[] = [];
for (let round = 0; round < 4; round++) runs.push(await side(false), await side(true));
const withIt = runs.filter((r) => r.native), without = runs.filter((r) => !r.native);
console.log(`native extractor loaded: ${withIt.length > 0}`);
const best = (list: typeof runs, name: string, what: "pack" | "unpack") =>
  Math.max(...list.map((r) => r.rates[name][what]));
for (const name of Object.keys(runs[0].rates)) {
  for (const what of ["pack", "unpack"] as const) {
    const on = withIt.length ? best(withIt, name, what) : NaN, off = best(without, name, what);
    console.log(
      `${name.padEnd(30)} ${what.padEnd(6)} with ${Math.round(on).toLocaleString("en").padStart(10)}/s  ` +
        `without ${Math.round(off).toLocaleString("en").padStart(10)}/s  ratio ${(on / off).toFixed(2)}`,
    );
  }
}
