/**
 * `deno task compile`: server.ts as one binary that needs no runtime. The
 * compile needs Deno's runtime binary (denort) — from `DENORT_BIN`, Deno's
 * cache, or a download — so a probe decides first, in bounded time, whether
 * this machine can compile at all, and the test is skipped with the reason
 * when it cannot.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect } from "../mod.ts";
import { type Child, freePort, IS_DENO, ROOT, run, start } from "./_spawn.ts";

const PASSWORD = "compiled-server-password";

/** The `deno compile` arguments of `deno task compile`, writing to `output` instead of dist/. */
async function compileArgs(output: string): Promise<string[]> {
  const config = JSON.parse(await readFile(join(ROOT, "deno.json"), "utf8"));
  const words = String(config.tasks.compile).split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"], `deno task compile is ${config.tasks.compile}`);
  const at = words.indexOf("--output");
  assert.ok(at > 0, "deno task compile names its --output");
  words[at + 1] = output;
  return words.slice(1);
}

/** Why this machine cannot compile, or `false`: compiles a one-line script, bounded in time. */
async function cannotCompile(): Promise<string | false> {
  if (!IS_DENO) return "deno compile is a Deno command";
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-compile-probe-"));
  try {
    await writeFile(join(dir, "probe.ts"), "console.log(1);\n");
    const probe = await run(process.execPath, ["compile", "--output", join(dir, "probe"), join(dir, "probe.ts")], {
      ms: 120_000,
    }).catch((error: Error) => ({ code: -1, stderr: error.message }));
    if (probe.code === 0) return false;
    if (/base binary|denort|error sending request|dns error/i.test(probe.stderr)) {
      return "deno compile needs Deno's runtime binary (denort), which this machine cannot download " +
        "(set DENORT_BIN to a denort binary of this Deno version to run this test)";
    }
    return false; // some other failure: let the test show it
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const skip = await cannotCompile();
if (skip) console.error(`compile_test.ts: skipped: ${skip}`);

test("deno task compile builds a single server binary that answers --help, serves and saves on SIGTERM", {
  skip,
  timeout: 600_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-compile-"));
  let server: Child | undefined;
  try {
    const binary = join(dir, "cyberdb-server");
    const compiled = await run(process.execPath, await compileArgs(binary), { ms: 300_000 });
    assert.equal(compiled.code, 0, compiled.stderr);

    const help = await run(binary, ["--help"], { ms: 30_000 });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage:/);

    const port = await freePort();
    const db = join(dir, "data.cdb");
    server = start(binary, ["--port", String(port), "--password", PASSWORD, "--db", db]);
    await server.waitFor(/listening on 127\.0\.0\.1:\d+/, 30_000);
    const client = await connect({ port, password: PASSWORD });
    try {
      await using proxy = await client.getProxy().connect();
      const centre = await proxy.createCyberDict("centre");
      await centre.set("content", "Hello CyberDB!");
      assert.equal(await centre.get("content"), "Hello CyberDB!");
    } finally {
      await client.close();
    }
    server.signal("SIGTERM");
    assert.equal((await server.exit(30_000)).code, 0, server.stderr);
    assert.ok((await stat(db)).size > 0, "the binary saved its snapshot at shutdown");
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
