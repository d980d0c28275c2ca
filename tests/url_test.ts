/**
 * The URL form of the connect options: `parseConnectUrl()` on good and bad
 * URLs, `connect(url)` against real servers over TCP (with a password and
 * encryption) and a Unix socket, and `client.ts -u <url>` / `CYBERDB_URL`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  AuthenticationError,
  connect,
  CyberDBError,
  EncryptionRequiredError,
  parseConnectUrl,
  Server,
} from "../mod.ts";
import { IS_DENO, ROOT, run } from "./_spawn.ts";

const PASSWORD = "p@ss word/1";
const ENCODED = encodeURIComponent(PASSWORD);

test("parseConnectUrl reads host, port, password and parameters of cyberdb:// URLs", () => {
  assert.deepEqual(parseConnectUrl(`cyberdb://:${ENCODED}@db.example:9981?encrypt=1`), {
    hostname: "db.example",
    port: 9981,
    password: PASSWORD,
    encrypt: true,
  });
  assert.deepEqual(parseConnectUrl("cyberdb://127.0.0.1"), { hostname: "127.0.0.1" });
  assert.deepEqual(parseConnectUrl("cyberdb://[::1]:7000/?encrypt=false"), {
    hostname: "::1",
    port: 7000,
    encrypt: false,
  });
  assert.deepEqual(parseConnectUrl("cyberdb://h?requestTimeout=500&sharedConnections=2&connectTimeout=50"), {
    hostname: "h",
    requestTimeout: 500,
    sharedConnections: 2,
    connectTimeout: 50,
  });
});

test("parseConnectUrl reads the socket path and ?password= of cyberdb+unix:// URLs", () => {
  assert.deepEqual(parseConnectUrl("cyberdb+unix:///run/cyberdb/db.sock"), { path: "/run/cyberdb/db.sock" });
  assert.deepEqual(parseConnectUrl(`cyberdb+unix:///tmp/a%20b.sock?password=${ENCODED}&encrypt=1`), {
    path: "/tmp/a b.sock",
    password: PASSWORD,
    encrypt: true,
  });
});

test("parseConnectUrl refuses a bad scheme, port, parameter or part with a RangeError naming it", () => {
  const cases: [string, RegExp][] = [
    ["redis://127.0.0.1:6379", /scheme "redis"/],
    ["127.0.0.1:9980", /scheme is missing/],
    ["cyberdb://h:0", /port "0" must be an integer from 1 to 65535/],
    ["cyberdb://h:65536", /port "65536"/],
    ["cyberdb://h:http", /port "http"/],
    ["cyberdb://h?encrypt=maybe", /parameter encrypt="maybe" must be 1 or 0/],
    ["cyberdb://h?db=0", /parameter "db" is unknown \(known: encrypt, password,/],
    ["cyberdb://h?requestTimeout=-5", /parameter requestTimeout="-5" must be a whole number/],
    ["cyberdb://user:pw@h", /user is not supported/],
    ["cyberdb:///nohost", /host is missing/],
    ["cyberdb://h/db0", /path "\/db0" has no meaning on cyberdb:\/\//],
    ["cyberdb+unix://host/x.sock", /host "host" has no place/],
    ["cyberdb+unix://", /path is missing/],
    ["cyberdb+unix:///x.sock?password=a&password=b", /no|repeats/],
  ];
  for (const [url, message] of cases) {
    assert.throws(() => parseConnectUrl(url), (error: unknown) => {
      assert.ok(error instanceof RangeError, `${url}: ${error}`);
      assert.match(error.message, message, url);
      return true;
    });
  }
});

test("a refused URL's message hides its password", () => {
  assert.throws(() => parseConnectUrl("cyberdb://:hunter2@h:0"), (error: Error) => !error.message.includes("hunter2"));
  assert.throws(
    () => parseConnectUrl("cyberdb+unix:///x?password=hunter2&bad=1"),
    (error: Error) => !error.message.includes("hunter2"),
  );
});

test("connect(url) reaches a password-protected, encrypted server; a wrong password or no encrypt fails as with options", async () => {
  const server = new Server();
  const { port } = await server.start({ port: 0, password: PASSWORD, encrypt: true });
  try {
    const client = await connect(`cyberdb://:${ENCODED}@127.0.0.1:${port}?encrypt=1`);
    try {
      await using proxy = await client.getProxy().connect();
      const centre = await proxy.createCyberDict("centre");
      await centre.set("k", "v");
      assert.equal(await centre.get("k"), "v");
    } finally {
      await client.close();
    }
    await assert.rejects(connect(`cyberdb://:wrong@127.0.0.1:${port}?encrypt=1`), AuthenticationError);
    await assert.rejects(connect(`cyberdb://:${ENCODED}@127.0.0.1:${port}`), EncryptionRequiredError);
    // Options beside the URL win over it.
    await assert.rejects(
      connect(`cyberdb://:${ENCODED}@127.0.0.1:${port}?encrypt=1`, { password: "wrong" }),
      AuthenticationError,
    );
    await assert.rejects(connect("cyberdb://127.0.0.1:1?nope=1"), RangeError);
  } finally {
    await server.close();
  }
  const plain = new Server();
  const started = await plain.start({ port: 0, password: PASSWORD });
  try {
    const client = await connect(`cyberdb://:${ENCODED}@127.0.0.1:${started.port}?encrypt=0`);
    await client.close();
    await assert.rejects(
      connect(`cyberdb://:${ENCODED}@127.0.0.1:${started.port}?encrypt=1`),
      CyberDBError,
    );
  } finally {
    await plain.close();
  }
});

test("connect('cyberdb+unix:///path') reaches a server on a Unix socket", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdb-"));
  const server = new Server();
  try {
    const path = join(dir, "db.sock");
    await server.start({ path, password: PASSWORD });
    const client = await connect(`cyberdb+unix://${path}?password=${ENCODED}`);
    try {
      await using proxy = await client.getProxy().connect();
      const log = await proxy.createCyberList("log");
      await log.push(1);
      assert.deepEqual(await log.toArray(), [1]);
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

function shell(args: string[], env: Record<string, string> = {}) {
  const script = IS_DENO ? ["run", "-A", "client.ts"] : [join(ROOT, "client.js")];
  return run(process.execPath, [...script, ...args], { env, ms: 60_000 });
}

test("client.ts -u <url> and CYBERDB_URL connect the shell; a bad URL exits 2 naming the part", async () => {
  const server = new Server();
  const { port } = await server.start({ port: 0, password: PASSWORD, encrypt: true });
  try {
    const url = `cyberdb://:${ENCODED}@127.0.0.1:${port}?encrypt=1`;
    const viaFlag = await shell(["-u", url, "tables"]);
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    const viaLong = await shell(["--url", url, "tables"]);
    assert.equal(viaLong.code, 0, viaLong.stderr);
    const viaEnv = await shell(["tables"], { CYBERDB_URL: url });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const bad = await shell(["-u", `cyberdb://127.0.0.1:${port}?encrypt=perhaps`, "tables"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--url: .*parameter encrypt="perhaps"/);
    const badEnv = await shell(["tables"], { CYBERDB_URL: "http://127.0.0.1" });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /CYBERDB_URL: .*scheme "http"/);
    const both = await shell(["-u", url, "--port", String(port), "tables"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /drop --hostname, --port and --unix, or --url/);
  } finally {
    await server.close();
  }
});
