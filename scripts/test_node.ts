/**
 * Runs the test suite under Node against the npm build: builds the package
 * with the tests into `npm/` (see `build_npm.ts`), then runs every compiled
 * `*_test.js` with `node --test`, as many files at once as there are CPUs.
 * Exits with Node's exit code.
 *
 * ```sh
 * npx -y deno@2 task test:node
 * npx -y deno@2 task test:node cyber_dict model   # only tests/cyber_dict_test.ts and tests/model_test.ts
 * ```
 *
 * The tests that start Deno (interop) find it in `$CYBERDB_DENO`, set here
 * to this Deno.
 *
 * @module
 */
import { availableParallelism } from "node:os";
import { build } from "./build_npm.ts";

const out = await build({ tests: true });
const only = Deno.args.map((name) => `${name.replace(/(_test)?(\.[jt]s)?$/, "")}_test.js`);
const files: string[] = [];
for await (const entry of Deno.readDir(`${out}/tests`)) {
  if (entry.name.endsWith("_test.js") && (only.length === 0 || only.includes(entry.name))) files.push(entry.name);
}
if (files.length === 0) {
  console.error(`error: no test files match ${Deno.args.join(", ")}`);
  Deno.exit(2);
}
files.sort();
console.log(`node --test: ${files.length} files in ${out}/tests`);
const node = new Deno.Command("node", {
  args: ["--test", "--test-reporter=spec", `--test-concurrency=${availableParallelism()}`, ...files],
  cwd: `${out}/tests`,
  env: { CYBERDB_DENO: Deno.execPath(), NO_COLOR: "1" },
  stdin: "null",
});
const { code } = await node.spawn().status;
Deno.exit(code);
