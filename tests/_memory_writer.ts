/**
 * Test child: `open({ journal })` in a process of its own, a few changes
 * acknowledged, then `acknowledged <n>` on stderr and a wait to be killed —
 * so a test can SIGKILL it and check that the next `open()` recovers every
 * acknowledged change.
 *
 * ```sh
 * deno run -A tests/_memory_writer.ts --journal j [--fsync always] [--count 50]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type FsyncPolicy, open } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";

const { values } = parseArgs({
  args: runtime.args(),
  strict: true,
  options: {
    journal: { type: "string" },
    fsync: { type: "string", default: "always" },
    count: { type: "string", default: "50" },
  },
});
if (values.journal === undefined) {
  console.error("usage: _memory_writer.ts --journal <path> [--fsync policy] [--count n]");
  runtime.exit(2);
}
const client = await open({ journal: { path: values.journal!, fsync: values.fsync as FsyncPolicy } });
const proxy = await client.getProxy().connect();
const dict = await proxy.createCyberDict("d");
const count = Number(values.count);
for (let i = 0; i < count; i++) await dict.set(`k${i}`, { i, when: new Date(i) });
await dict.delete("k0");
const list = await proxy.createCyberList("l");
await list.push(1, 2, 3);
await list.pop();
console.error(`acknowledged ${count}`);
// Wait to be killed (bounded: a test that forgot this child does not leave it forever).
setTimeout(() => runtime.exit(3), 60_000);
