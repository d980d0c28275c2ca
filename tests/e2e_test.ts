/**
 * The user's story end to end: `examples/hello/init.ts` saves the tables, a
 * server serves them with a password and encryption, and the web app runs
 * with 4 workers (`deno serve --parallel`, and `node:cluster` from the npm
 * build) sharing them: 2,000 reads from 50 concurrent connections all answer
 * the story's JSON, and 2,000 atomic increments end at exactly 2,000.
 *
 * @module
 */
import { test } from "node:test";
import { request as httpRequest } from "node:http";
import { Buffer } from "node:buffer";
import { connect as netConnect, type Socket } from "node:net";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect, EncryptionRequiredError, Server } from "../mod.ts";
import { type Child, freePort, IS_DENO, ROOT, run, start } from "./_spawn.ts";

const PASSWORD = "hWjYvVdqRC-e2e";
const REQUESTS = 2_000;
const CONNECTIONS = 50;
const WORKERS = 4;
const CONTENT = '{"code":1,"content":"Hello CyberDB!"}';
const NOT_DENO = IS_DENO ? false : "the Deno examples run under Deno";

/** Saves the story's tables to `<dir>/data.cdb`: with the real init.ts under Deno, in-process under Node. */
async function init(dir: string): Promise<string> {
  const db = join(dir, "data.cdb");
  if (IS_DENO) {
    const result = await run(process.execPath, ["run", "-A", "examples/hello/init.ts", "--port", "0", "--db", db]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `saved table centre to ${db}\n`);
    return db;
  }
  const server = new Server();
  const { port } = await server.start({ port: 0 });
  try {
    const client = await connect({ port });
    await using proxy = await client.getProxy().connect();
    await (await proxy.createCyberDict("centre")).set("content", "Hello CyberDB!");
    await client.close();
    await server.save(db);
  } finally {
    await server.close();
  }
  return db;
}

/** A server loaded from the snapshot, with a password and encryption, as serve.ts runs it. */
async function serve(db: string): Promise<{ server: Server; env: Record<string, string> }> {
  const server = new Server();
  await server.load(db);
  const { port } = await server.start({ port: 0, password: PASSWORD, encrypt: true, maxConnections: 10_000 });
  const env = {
    CYBERDB_HOST: "127.0.0.1",
    CYBERDB_PORT: String(port),
    CYBERDB_PASSWORD: PASSWORD,
    CYBERDB_ENCRYPT: "1",
  };
  return { server, env };
}

/** Waits until the app answers `GET /` (its workers may still be starting). */
async function waitForApp(app: Child, url: string, ms = 120_000): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (app.exited || performance.now() > until) {
      throw new Error(`the app did not answer at ${url}:\n${app.stdout}\n${app.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One keep-alive HTTP/1.1 connection, by hand: every request on it reaches the same worker. */
class HttpConnection {
  #socket: Socket;
  #buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on("end", end);
    socket.on("error", end);
    socket.on("close", end);
  }

  static open(port: number): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(new HttpConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends one request and reads its answer (Content-Length bodies only, as the app sends). */
  async request(method: string, path: string, body = ""): Promise<{ headers: Map<string, string>; body: string }> {
    const bytes = Buffer.from(body);
    // One write: a request in two would wait for the peer's delayed ACK (Nagle).
    this.#socket.write(Buffer.concat([
      Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${bytes.length}\r\n\r\n`),
      bytes,
    ]));
    const until = performance.now() + 10_000;
    for (;;) {
      const head = this.#buffer.indexOf("\r\n\r\n");
      if (head >= 0) {
        const lines = this.#buffer.subarray(0, head).toString("latin1").split("\r\n");
        const headers = new Map(
          lines.slice(1).map((line) => {
            const colon = line.indexOf(":");
            return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
          }),
        );
        const length = Number(headers.get("content-length"));
        assert.ok(Number.isInteger(length), `no content-length in ${lines.join(" | ")}`);
        if (this.#buffer.length >= head + 4 + length) {
          const answer = this.#buffer.subarray(head + 4, head + 4 + length).toString("utf8");
          this.#buffer = this.#buffer.subarray(head + 4 + length);
          return { headers, body: answer };
        }
      }
      if (this.#ended || performance.now() > until) throw new Error(`no answer to ${method} ${path}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * Holds one keep-alive connection to each worker, changes `content` through
 * one of them, and polls every worker's `GET /` (answered from its cache,
 * kept fresh by watch()) until it gives the new content.
 *
 * @returns the milliseconds the PUT took, and for each worker the milliseconds from the PUT's answer (the change is
 *   made) to that worker answering the new content
 */
async function changeReachesEveryWorker(port: number): Promise<{ put: number; delays: number[] }> {
  const byWorker = new Map<string, HttpConnection>();
  try {
    for (let i = 0; i < 400 && byWorker.size < WORKERS; i++) {
      const connection = await HttpConnection.open(port);
      const answer = await connection.request("GET", "/");
      assert.equal(answer.body, CONTENT);
      const worker = answer.headers.get("x-worker")!;
      if (byWorker.has(worker)) connection.close();
      else byWorker.set(worker, connection);
    }
    assert.equal(byWorker.size, WORKERS, "a connection to each worker");
    const connections = [...byWorker.values()];
    const text = `changed through one worker at ${Date.now()}`;
    const sent = performance.now();
    assert.equal((await connections[0].request("PUT", "/content", text)).body, '{"code":1}');
    const made = performance.now();
    const delays = await Promise.all(connections.map(async (connection) => {
      for (let i = 0; i < 1000; i++) {
        if (JSON.parse((await connection.request("GET", "/")).body).content === text) return performance.now() - made;
      }
      throw new Error("a worker never answered the new content");
    }));
    await connections[0].request("PUT", "/content", "Hello CyberDB!");
    return { put: made - sent, delays };
  } finally {
    for (const connection of byWorker.values()) connection.close();
  }
}

/** One GET on a connection of its own, closed after it. */
function getOnNewConnection(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(url, { agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      response.on("end", resolve);
    });
    sent.on("timeout", () => sent.destroy(new Error(`GET ${url} timed out`)));
    sent.on("error", reject);
    sent.end();
  });
}

/** Sends `total` requests from `connections` concurrent loops; the status and body of each, and the time taken. */
async function load(
  url: string,
  method: string,
  total: number,
  connections: number,
): Promise<{ answers: { status: number; body: string }[]; seconds: number }> {
  const answers: { status: number; body: string }[] = [];
  let next = 0;
  const began = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < total) {
      next++;
      const response = await fetch(url, { method, signal: AbortSignal.timeout(60_000) });
      answers.push({ status: response.status, body: await response.text() });
    }
  }));
  return { answers, seconds: (performance.now() - began) / 1000 };
}

/** The story's checks against an app at `base`; returns the `GET /` requests per second. */
async function exercise(base: string, server: Server, env: Record<string, string>): Promise<number> {
  const reads = await load(`${base}/`, "GET", REQUESTS, CONNECTIONS);
  assert.equal(reads.answers.length, REQUESTS);
  const wrong = reads.answers.filter((answer) => answer.status !== 200 || answer.body !== CONTENT);
  assert.deepEqual(wrong.slice(0, 3), [], `${wrong.length} of ${REQUESTS} GET / answers were not ${CONTENT}`);

  const writes = await load(`${base}/hits`, "POST", REQUESTS, CONNECTIONS);
  const hits = writes.answers.map((answer) => {
    assert.equal(answer.status, 200, answer.body);
    const body = JSON.parse(answer.body);
    assert.equal(body.code, 1, answer.body);
    return body.hits as number;
  });
  // Every increment saw a different count: none was lost, none applied twice.
  assert.deepEqual(hits.sort((a, b) => a - b), Array.from({ length: REQUESTS }, (_, i) => i + 1));
  const client = await connect({ port: Number(env.CYBERDB_PORT), password: PASSWORD, encrypt: true });
  try {
    await using proxy = await client.getProxy().connect();
    assert.equal(await (await proxy.getCyberDict("centre")).get("hits"), REQUESTS);
  } finally {
    await client.close();
  }
  // A worker connects on its first request. One that started late may have had none of the load's keep-alive
  // connections (the kernel spreads connections over the listeners bound when they arrive): new connections,
  // one request each, reach it.
  const until = performance.now() + 30_000;
  while (server.info().connections.total < WORKERS && performance.now() < until) {
    await Promise.all(Array.from({ length: 8 }, () => getOnNewConnection(`${base}/`)));
  }
  assert.ok(
    server.info().connections.total >= WORKERS,
    `every worker connected (${server.info().connections.total} connections for ${WORKERS} workers)`,
  );

  const notFound = await fetch(`${base}/nowhere`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(notFound.status, 404);
  assert.deepEqual(await notFound.json(), { code: 0, error: "no route GET /nowhere" });
  return REQUESTS / reads.seconds;
}

test(
  "deno serve --parallel with 4 workers shares one server: 2,000 reads answer the story, 2,000 increments count 2,000, " +
    "and a change made through one worker reaches every worker's watched cache within 100 ms",
  {
    skip: NOT_DENO,
    timeout: 600_000,
  },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "cyberdb-e2e-"));
    let app: Child | undefined;
    let server: Server | undefined;
    try {
      const db = await init(dir);
      const served = await serve(db);
      server = served.server;
      let port = 0;
      // A free port can be taken by a parallel test before deno serve binds it: then try another.
      for (let attempt = 1;; attempt++) {
        port = await freePort();
        app = start(process.execPath, [
          "serve",
          "--parallel",
          "-A",
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "examples/hello/app.ts",
        ], { env: { ...served.env, DENO_JOBS: String(WORKERS) } });
        try {
          await app.waitFor(
            new RegExp(`Listening on http://127\\.0\\.0\\.1:${port}/ with ${WORKERS} threads`),
            120_000,
          );
          break;
        } catch (error) {
          if (attempt === 3 || !/AddrInUse|address already in use/i.test(app.stderr)) throw error;
          await app.stop();
        }
      }
      await waitForApp(app, `http://127.0.0.1:${port}/`);
      const rate = await exercise(`http://127.0.0.1:${port}`, server, served.env);
      console.log(
        `deno serve --parallel, ${WORKERS} workers, ${CONNECTIONS} connections: GET / ${rate.toFixed(0)} req/s`,
      );
      const { put, delays } = await changeReachesEveryWorker(port);
      console.log(
        `a change (PUT in ${put.toFixed(1)} ms) reached the ${WORKERS} workers' caches ` +
          `${delays.map((d) => d.toFixed(1)).join(", ")} ms after it was made`,
      );
      assert.ok(delays.every((delay) => delay < 100), `${delays.map((d) => d.toFixed(1)).join(", ")} ms`);
    } finally {
      // SIGKILL: on SIGTERM deno serve waits for open keep-alive connections, and fetch keeps its pool open.
      await app?.stop();
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

/** examples/hello/node_app.mjs: in the repository, or in the repository holding the package the tests were compiled into. */
async function nodeApp(): Promise<string | undefined> {
  for (const path of [join(ROOT, "examples/hello/node_app.mjs"), join(ROOT, "../examples/hello/node_app.mjs")]) {
    if (await stat(path).then(() => true, () => false)) return path;
  }
  return undefined;
}

/** The built npm package (`deno task build:npm`), node and the app, or why the Node app cannot run. */
async function npmPackage(): Promise<{ dir: string; node: string; app: string } | { skip: string }> {
  const app = await nodeApp();
  if (app === undefined) return { skip: `examples/hello/node_app.mjs is not beside ${ROOT}` };
  let node = process.execPath;
  if (IS_DENO) {
    try {
      execFileSync("node", ["--version"], { stdio: "ignore", timeout: 10_000 });
      node = "node";
    } catch {
      return { skip: "no node on PATH to run examples/hello/node_app.mjs" };
    }
  }
  // CYBERDB_NPM_DIR if set; from the repository: npm/; from tests compiled into the package: the package itself.
  const dirs = process.env.CYBERDB_NPM_DIR ? [process.env.CYBERDB_NPM_DIR] : [join(ROOT, "npm"), ROOT];
  for (const dir of dirs) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
      await stat(join(dir, "mod.js"));
      if (manifest.name === "cyberdb") return { dir, node, app };
    } catch {
      // not built here
    }
  }
  return { skip: "the npm build is missing: run `deno task build:npm` first" };
}

const built = await npmPackage();

test("node:cluster with 4 workers from the npm build shares one server the same way", {
  skip: "skip" in built ? built.skip : false,
  timeout: 600_000,
}, async () => {
  if ("skip" in built) return;
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-e2e-node-"));
  let app: Child | undefined;
  let server: Server | undefined;
  try {
    // The app imports "cyberdb" as a user's app does after `npm install cyberdb`.
    await mkdir(join(dir, "app", "node_modules"), { recursive: true });
    await symlink(built.dir, join(dir, "app", "node_modules", "cyberdb"), "dir");
    await copyFile(built.app, join(dir, "app", "node_app.mjs"));
    const db = await init(dir);
    const served = await serve(db);
    server = served.server;
    const port = await freePort();
    app = start(built.node, ["node_app.mjs"], {
      cwd: join(dir, "app"),
      env: { ...served.env, HOST: "127.0.0.1", PORT: String(port), WORKERS: String(WORKERS) },
    });
    const until = performance.now() + 120_000;
    while ((app.stdout.match(/listening on/g) ?? []).length < WORKERS) {
      if (app.exited || performance.now() > until) {
        throw new Error(`the ${WORKERS} workers did not start:\n${app.stdout}\n${app.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitForApp(app, `http://127.0.0.1:${port}/`);
    const rate = await exercise(`http://127.0.0.1:${port}`, server, served.env);
    console.log(`node:cluster, ${WORKERS} workers, ${CONNECTIONS} connections: GET / ${rate.toFixed(0)} req/s`);
  } finally {
    await app?.stop("SIGTERM");
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("examples/hello/serve.ts serves the snapshot encrypted and saves it on SIGTERM", { skip: NOT_DENO }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-serve-"));
  let child: Child | undefined;
  try {
    const db = await init(dir);
    const again = await run(process.execPath, ["run", "-A", "examples/hello/init.ts", "--port", "0", "--db", db]);
    assert.equal(again.code, 1, "init.ts keeps an existing snapshot");
    assert.match(again.stderr, /exists already; keeping it \(pass --force/);

    const missing = await run(process.execPath, ["run", "-A", "examples/hello/serve.ts", "--db", join(dir, "no.cdb")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Run examples\/hello\/init\.ts first/);

    const port = await freePort();
    child = start(process.execPath, ["run", "-A", "examples/hello/serve.ts", "--port", String(port), "--db", db], {
      env: { CYBERDB_PASSWORD: PASSWORD },
    });
    await child.waitFor(/listening on 127\.0\.0\.1:\d+/);
    await assert.rejects(connect({ port, password: PASSWORD }), EncryptionRequiredError);
    const client = await connect({ port, password: PASSWORD, encrypt: true });
    try {
      await using proxy = await client.getProxy().connect();
      const centre = await proxy.getCyberDict("centre");
      assert.equal(await centre.get("content"), "Hello CyberDB!");
      assert.equal(await centre.increment("hits"), 1);
    } finally {
      await client.close();
    }
    child.signal("SIGTERM");
    assert.equal((await child.exit(30_000)).code, 0, child.stderr);
    const reloaded = new Server();
    await reloaded.load(db);
    const { port: check } = await reloaded.start({ port: 0 });
    try {
      const reader = await connect({ port: check });
      await using proxy = await reader.getProxy().connect();
      assert.equal(await (await proxy.getCyberDict("centre")).get("hits"), 1, "the SIGTERM snapshot kept the change");
      await reader.close();
    } finally {
      await reloaded.close();
    }
  } finally {
    await child?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("deno serve --parallel examples/hello/app.ts exits within 2 s of SIGINT after it served requests", {
  skip: NOT_DENO,
  timeout: 300_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb-sigint-"));
  let app: Child | undefined;
  let server: Server | undefined;
  try {
    const served = await serve(await init(dir));
    server = served.server;
    for (let attempt = 1;; attempt++) {
      const port = await freePort();
      app = start(process.execPath, [
        "serve",
        "--parallel",
        "-A",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "examples/hello/app.ts",
      ], { env: { ...served.env, DENO_JOBS: "2" } });
      try {
        await app.waitFor(new RegExp(`Listening on http://127\\.0\\.0\\.1:${port}/`), 120_000);
      } catch (error) {
        if (attempt === 3 || !/AddrInUse|address already in use/i.test(app.stderr)) throw error;
        await app.stop();
        continue;
      }
      await waitForApp(app, `http://127.0.0.1:${port}/`);
      // Requests on new connections, so that both workers (likely) hold an open connection to the server.
      for (let i = 0; i < 8; i++) await getOnNewConnection(`http://127.0.0.1:${port}/`);
      break;
    }
    assert.ok(server.info().connections.current >= 1, "the app holds a connection to the server");
    const sent = performance.now();
    app.signal("SIGINT");
    const exit = await app.exit(10_000);
    const seconds = (performance.now() - sent) / 1000;
    assert.ok(seconds < 2, `exited ${seconds.toFixed(2)} s after SIGINT`);
    assert.ok(exit.code !== null || exit.signal === "SIGINT", JSON.stringify(exit));
  } finally {
    await app?.stop();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
