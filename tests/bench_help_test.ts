/**
 * Every benchmark script answers `--help` with its usage (exit 0) and a
 * wrong flag with the usage on stderr (exit 2), never a stack trace.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { IS_DENO, ROOT, run } from "./_spawn.ts";

const SCRIPTS = IS_DENO
  ? readdirSync(join(ROOT, "bench")).filter((name) => /^[a-z][\w]*\.ts$/.test(name) && !name.endsWith("_bench.ts"))
  : [];

test("bench/*.ts --help prints the usage and exits 0; a wrong flag prints it on stderr and exits 2", {
  skip: IS_DENO ? false : "the benchmark scripts run under Deno",
}, async () => {
  assert.ok(SCRIPTS.length >= 4, `found ${SCRIPTS.join(", ")}`);
  for (const script of SCRIPTS) {
    const help = await run(process.execPath, ["run", "-A", join("bench", script), "--help"], { ms: 60_000 });
    assert.equal(help.code, 0, `${script} --help: ${help.stderr}`);
    assert.match(help.stdout, /^Usage: /, script);
    const wrong = await run(process.execPath, ["run", "-A", join("bench", script), "--no-such-flag"], { ms: 60_000 });
    assert.equal(wrong.code, 2, `${script} --no-such-flag: ${wrong.stderr}`);
    assert.match(wrong.stderr, /Unknown option '--no-such-flag'[\s\S]*Usage: /, script);
    assert.doesNotMatch(wrong.stderr, /\n\s+at /, `${script}: no stack trace`);
  }
});
