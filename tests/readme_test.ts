/**
 * The README's "Use it" sample runs as printed (on a free port instead of
 * 9980) and prints what its comments say. Its Node form (`try` / `finally`,
 * for Node < 24) runs from the packed npm package in `npm_test.ts`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { SAMPLE_OUTPUT, samples } from "./_readme.ts";
import { freePort, IS_DENO, ROOT, run } from "./_spawn.ts";

test("README: the Use it sample with await using runs as printed under Deno and prints what its comments say", {
  skip: IS_DENO ? false : "await using needs Node 24; the Node form of the sample runs in npm_test.ts",
}, async () => {
  const [sample] = await samples(join(ROOT, "README.md"), "Use it", "ts");
  assert.match(sample, /await using proxy/);
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-readme-"));
  try {
    const file = join(dir, "sample.ts");
    const port = String(await freePort());
    await writeFile(
      file,
      sample.replace('"./mod.ts"', JSON.stringify(pathToFileURL(join(ROOT, "mod.ts")).href)).replaceAll("9980", port),
    );
    // The sample sits in the repository root, where deno.json maps msgpackr: here, its config is named.
    const done = await run(process.execPath, ["run", "-A", "--config", join(ROOT, "deno.json"), file], { ms: 120_000 });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, SAMPLE_OUTPUT);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
