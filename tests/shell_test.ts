/**
 * The shell: its parsing and formatting as pure functions, then the real
 * `client.ts` driven as a child process against an in-process server, one
 * command at a time and as an interactive session fed through stdin.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { formatEntries, formatInfo, formatTables, formatValue } from "../src/client/format.ts";
import { parseLine, parseValue, parseWords, UsageError } from "../src/client/shell.ts";
import { startServer } from "./_server.ts";
import { VERSION } from "../mod.ts";
import { IS_DENO, ROOT, run } from "./_spawn.ts";

const PASSWORD = "correct horse battery staple";

test("parseLine reads commands, keys and JSON values; the value is the rest of the line", () => {
  assert.deepEqual(parseLine("get centre content"), { name: "get", table: "centre", key: "content" });
  assert.deepEqual(parseLine("  set centre n 1  "), { name: "set", table: "centre", key: "n", value: 1 });
  assert.deepEqual(parseLine('set centre user {"name": "Ada  Lovelace", "tags": [1, true, null]}'), {
    name: "set",
    table: "centre",
    key: "user",
    value: { name: "Ada  Lovelace", tags: [1, true, null] },
  });
  assert.deepEqual(parseLine("push log x"), { name: "push", table: "log", value: "x" });
  assert.deepEqual(parseLine("push log hello   world"), { name: "push", table: "log", value: "hello   world" });
  assert.deepEqual(parseLine('push log "quoted"'), { name: "push", table: "log", value: "quoted" });
  assert.deepEqual(parseLine("get log -1"), { name: "get", table: "log", key: -1 });
  assert.deepEqual(parseLine('get centre "2024"'), { name: "get", table: "centre", key: "2024" });
  assert.deepEqual(parseLine('get "my table" "my key"'), { name: "get", table: "my table", key: "my key" });
  assert.deepEqual(parseLine("incr centre hits"), { name: "incr", table: "centre", key: "hits", by: 1 });
  assert.deepEqual(parseLine("incr centre hits -2.5"), { name: "incr", table: "centre", key: "hits", by: -2.5 });
  assert.deepEqual(parseLine("pop log"), { name: "pop", table: "log", index: undefined });
  assert.deepEqual(parseLine("pop log 0"), { name: "pop", table: "log", index: 0 });
  assert.deepEqual(parseLine("CREATE List log"), { name: "create", kind: "list", table: "log" });
  assert.deepEqual(parseLine("len centre"), { name: "len", table: "centre" });
  assert.deepEqual(parseLine("exit"), { name: "quit" });
  assert.deepEqual(parseLine("tables"), { name: "tables" });
  assert.equal(parseLine("   "), undefined);
  assert.equal(parseLine(""), undefined);
});

test("parseLine rejects unknown commands and wrong argument counts with a UsageError saying how", () => {
  assert.throws(
    () => parseLine("fly centre"),
    (error: Error) => error instanceof UsageError && /help/.test(error.message),
  );
  assert.throws(() => parseLine("get centre"), /usage: get <table> <key\|index>/);
  assert.throws(() => parseLine("set centre n"), /usage: set/);
  assert.throws(() => parseLine("tables extra"), /takes no arguments/);
  assert.throws(() => parseLine("create set centre"), /usage: create dict\|list/);
  assert.throws(() => parseLine("pop log first"), /integer/);
  assert.throws(() => parseLine("incr centre n lots"), /not a number/);
  assert.throws(() => parseLine('get centre "unterminated'), /not a valid quoted string/);
});

test("parseWords takes a command line's words, joining the rest for the value", () => {
  assert.deepEqual(parseWords(["set", "centre", "my key", '{"a": 1}']), {
    name: "set",
    table: "centre",
    key: "my key",
    value: { a: 1 },
  });
  assert.deepEqual(parseWords(["push", "log", "two", "words"]), { name: "push", table: "log", value: "two words" });
  assert.throws(() => parseWords([]), UsageError);
});

test("parseValue reads JSON, bigints written 12n, and falls back to the text itself", () => {
  assert.equal(parseValue("1"), 1);
  assert.equal(parseValue("0"), 0);
  assert.equal(parseValue('""'), "");
  assert.equal(parseValue("false"), false);
  assert.equal(parseValue("null"), null);
  assert.deepEqual(parseValue("[]"), []);
  assert.equal(parseValue("12345678901234567890n"), 12345678901234567890n);
  assert.equal(parseValue("-3n"), -3n);
  assert.equal(parseValue("Hello CyberDB!"), "Hello CyberDB!");
  assert.equal(parseValue("{not json"), "{not json");
  assert.throws(() => parseValue("  "), /missing/);
});

test("formatValue shows strings quoted and bigints, Dates, bytes and undefined apart from JSON", () => {
  assert.equal(formatValue("Hello CyberDB!"), '"Hello CyberDB!"');
  assert.equal(formatValue(undefined), "undefined");
  assert.equal(formatValue(null), "null");
  assert.equal(formatValue(0), "0");
  assert.equal(formatValue(-0), "-0");
  assert.equal(formatValue(false), "false");
  assert.equal(formatValue(2n ** 70n), "1180591620717411303424n");
  assert.equal(formatValue(new Date("2024-05-01T12:00:00.000Z")), "Date(2024-05-01T12:00:00.000Z)");
  assert.equal(formatValue(new Uint8Array([1, 2, 255])), "Uint8Array(3) [01 02 ff]");
  assert.match(formatValue(new Uint8Array(100)), /^Uint8Array\(100\) \[(00 ){32}…\]$/);
  assert.equal(formatValue([]), "[]");
  assert.equal(formatValue({}), "{}");
  assert.equal(formatValue({ a: [1, "x", { b: null }], n: 1n }), '{"a": [1, "x", {"b": null}], "n": 1n}');
});

test("formatValue indents values too long for one line", () => {
  const long = { first: "a".repeat(40), second: ["b".repeat(30), 2], third: {} };
  assert.equal(
    formatValue(long),
    `{\n  "first": "${"a".repeat(40)}",\n  "second": ["${"b".repeat(30)}", 2],\n  "third": {}\n}`,
  );
});

test("formatEntries keeps number keys apart from string keys", () => {
  assert.equal(formatEntries([["1", "string key"], [1, "number key"]]), '{"1": "string key", 1: "number key"}');
  assert.equal(formatEntries([]), "{}");
});

test("formatTables and formatInfo line up names and facts", () => {
  assert.equal(formatTables([]), "(no tables)");
  assert.equal(
    formatTables([{ name: "centre", type: "CyberDict" }, { name: "log", type: "CyberList" }]),
    "centre  CyberDict\nlog     CyberList",
  );
  const text = formatInfo({
    version: "9.9.9",
    uptime: 12.34,
    connections: { current: 2, total: 7, refused: 1 },
    requests: 42,
    tables: [{ name: "centre", type: "CyberDict", size: 3 }],
    memory: { rss: 50 * 1024 * 1024 },
    lastSnapshot: { at: new Date("2024-05-01T12:00:00.000Z"), path: "data.cdb", ok: true },
    journal: null,
  });
  assert.match(text, /^version +9\.9\.9$/m);
  assert.match(text, /^uptime +12\.3 s$/m);
  assert.match(text, /^connections +2 open, 7 since start, 1 refused$/m);
  assert.match(text, /^requests +42$/m);
  assert.match(text, /^memory +50\.0 MiB resident$/m);
  assert.match(text, /^snapshot +saved data\.cdb at 2024-05-01T12:00:00\.000Z$/m);
  assert.match(text, /^journal +off$/m);
  assert.match(text, /^ {2}centre {2}CyberDict {2}3 entries$/m);
});

for (const flag of ["--version", "-v"]) {
  test(`client.ts ${flag} prints the version of the package and exits 0, without connecting`, async () => {
    // Port 1: nothing listens there, so a connection attempt would fail with exit code 1.
    const out = await shell(1, [flag]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), `cyberdb ${VERSION}`);
  });
}

/**
 * Runs the shell against a port with `args`, stdin being `input`: `deno run -A client.ts` under Deno,
 * `node client.js` from the npm build (where these tests are compiled to) under Node.
 */
function shell(port: number, args: string[], input = "", env: Record<string, string> = {}) {
  const script = IS_DENO ? ["run", "-A", "client.ts"] : [join(ROOT, "client.js")];
  return run(process.execPath, [...script, "--port", String(port), ...args], {
    input,
    env,
    ms: 60_000,
  });
}

test("client.ts one-shot commands print the result and exit 0", async () => {
  const fx = await startServer({ password: PASSWORD, encrypt: true });
  try {
    {
      await using proxy = await fx.client.getProxy().connect();
      const centre = await proxy.createCyberDict("centre");
      await centre.set("content", "Hello CyberDB!");
    }
    const flags = ["--password", PASSWORD, "--encrypt"];
    let result = await shell(fx.port, [...flags, "get", "centre", "content"]);
    assert.deepEqual([result.code, result.stdout, result.stderr], [0, '"Hello CyberDB!"\n', ""]);
    result = await shell(fx.port, [...flags, "set", "centre", "n", "41"]);
    assert.deepEqual([result.code, result.stdout], [0, "OK\n"]);
    result = await shell(fx.port, [...flags, "incr", "centre", "n"]);
    assert.deepEqual([result.code, result.stdout], [0, "42\n"]);
    result = await shell(fx.port, ["--encrypt", "--", "len", "centre"], "", { CYBERDB_PASSWORD: PASSWORD });
    assert.deepEqual([result.code, result.stdout], [0, "2\n"], result.stderr);
    result = await shell(fx.port, [...flags, "tables"]);
    assert.deepEqual([result.code, result.stdout], [0, "centre  CyberDict\n"]);
    result = await shell(fx.port, [...flags, "info"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^tables +1\n {2}centre {2}CyberDict {2}2 entries\n$/m);
    await using proxy = await fx.client.getProxy().connect();
    assert.equal(await (await proxy.getCyberDict("centre")).get("n"), 42);
  } finally {
    await fx.close();
  }
});

test("client.ts one-shot errors print the code on stderr and exit non-zero", async () => {
  const fx = await startServer({ password: PASSWORD });
  try {
    let result = await shell(fx.port, ["--password", PASSWORD, "get", "nope", "x"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error NO_SUCH_TABLE: no table "nope"; create it with `create dict nope`$/m);
    result = await shell(fx.port, ["--password", PASSWORD, "fly", "away"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "fly"/);
    result = await shell(fx.port, ["--password", "wrong", "tables"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error AUTH_FAILED: /m);
    result = await shell(fx.port, ["--no-such-flag"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Usage:/);
    result = await shell(fx.port, ["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: /);
    for (const flag of ["--hostname", "--port", "--password", "--encrypt"]) assert.ok(result.stdout.includes(flag));
  } finally {
    await fx.close();
  }
});

test(
  "client.ts reads an interactive session from stdin and answers each line in order",
  async () => {
    const fx = await startServer({ password: PASSWORD });
    try {
      const session = [
        "tables",
        "create dict centre",
        'set centre content "Hello CyberDB!"',
        "get centre content",
        "set centre n 1",
        "get centre missing",
        "create list log",
        "push log x",
        'push log {"at": 12n, "ok": true}',
        "push log 7n",
        "get log 0",
        "get log -1",
        "len centre",
        "len log",
        "get nowhere x",
        "push centre x",
        "tables",
        "info",
        "help",
        "quit",
        "tables",
      ].join("\n");
      const result = await shell(fx.port, ["--password", PASSWORD], `${session}\n`);
      assert.equal(result.code, 0, result.stderr);
      const [before, after] = result.stdout.split(/^version .*$/m);
      assert.equal(
        before,
        [
          "(no tables)",
          "OK",
          "OK",
          '"Hello CyberDB!"',
          "OK",
          "undefined",
          "OK",
          "1",
          "2", // {"at": 12n, …} is not JSON, so it was pushed as text
          "3",
          '"x"',
          "7n",
          "2",
          "3",
          'error NO_SUCH_TABLE: no table "nowhere"; create it with `create dict nowhere`',
          "error WRONG_TYPE: centre is a dict; push works on lists",
          "centre  CyberDict",
          "log     CyberList",
          "",
        ].join("\n"),
      );
      assert.match(after, /^tables +2$/m);
      assert.match(after, /^ {2}log {5}CyberList {2}3 items$/m);
      assert.match(after, /^ {2}quit +leave/m);
      // "quit" ended the session: the "tables" after it was never run.
      assert.ok(after.trimEnd().endsWith("leave (also exit, or end of input)"), after);
      await using proxy = await fx.client.getProxy().connect();
      assert.deepEqual(await (await proxy.getCyberList("log")).toArray(), ["x", '{"at": 12n, "ok": true}', 7n]);
    } finally {
      await fx.close();
    }
  },
);
