/**
 * The shell at a terminal, driven through a pseudo-terminal (python3's pty
 * module): Tab completes commands and table names, Up walks the history,
 * which is kept in the file `CYBERDB_HISTORY` names across sessions, Ctrl-C
 * clears the line instead of ending the shell, and Ctrl-D leaves.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect, Server } from "../mod.ts";
import { IS_DENO, ROOT, run } from "./_spawn.ts";

function cannotRun(): string | false {
  if (!IS_DENO) return "the shell is driven as `deno run client.ts` (under Node, client.js is the same code)";
  try {
    execFileSync("python3", ["-c", "import pty"], { stdio: "ignore", timeout: 10_000 });
    return false;
  } catch {
    return "python3 with its pty module is needed to drive a pseudo-terminal";
  }
}

const UP = "\x1b[A", CTRL_C = "\x03", CTRL_D = "\x04", TAB = "\t";

test("the shell at a terminal: Tab completes, Up recalls the history file, Ctrl-C clears the line, Ctrl-D leaves", {
  skip: cannotRun(),
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-pty-"));
  const server = new Server();
  try {
    const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
    const client = await connect({ port });
    {
      await using proxy = await client.getProxy().connect();
      await (await proxy.createCyberDict("centre")).set("content", "Hello CyberDB!");
    }
    await client.close();
    const history = join(dir, "history");
    await writeFile(history, "get centre from-last-session\n");
    const steps = [
      { expect: "cyberdb> " },
      { send: `cre${TAB}`, expect: "create $" },
      { send: "dict log\r", expect: "OK" },
      { send: `get ce${TAB}`, expect: "centre $" },
      { send: "content\r", expect: '"Hello CyberDB!"' },
      // Ctrl-C drops the half-typed line; the shell goes on.
      { send: `get centre half-typed${CTRL_C}`, expect: "\\^C" },
      { send: "tables\r", expect: "log\\s+CyberDict" },
      // Up: tables, then get centre content; Enter runs it again.
      { send: `${UP}${UP}`, expect: "get centre content" },
      { send: "\r", expect: '"Hello CyberDB!"' },
      // Further up: the line of the last session, from the file.
      { send: `${UP}${UP}${UP}${UP}`, expect: "from-last-session" },
      { send: `${CTRL_C}${CTRL_D}` },
    ];
    const done = await run(
      "python3",
      [
        join(ROOT, "tests/_pty.py"),
        JSON.stringify(steps),
        process.execPath,
        "run",
        "-A",
        "client.ts",
        "--port",
        String(port),
      ],
      { env: { CYBERDB_HISTORY: history, TERM: "xterm" }, ms: 100_000 },
    );
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.doesNotMatch(done.stdout, /half-typedtables|unknown command/, "Ctrl-C cleared the line");
    assert.deepEqual((await readFile(history, "utf8")).split("\n"), [
      "get centre from-last-session",
      "create dict log",
      "get centre content",
      "tables",
      "get centre content", // run again from the history: kept again (only a repeat in a row is dropped)
      "",
    ], "the history file has every line, in order");
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
