/**
 * The npm build: its package.json, the packed tarball installed into a fresh
 * project (ESM, CommonJS, TypeScript, `npx cyberdb-server`), and servers and
 * clients of both runtimes talking to each other.
 *
 * Under Deno each test builds the package into a temporary directory first
 * (`scripts/build_npm.ts --out`); under Node the tests run from a build
 * already (`deno task test:node`), so they use that one.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";
import { checkValues, writeValues } from "./_interop_client.ts";
import { SAMPLE_OUTPUT, samples } from "./_readme.ts";
import { type Child, freePort, run, start } from "./_spawn.ts";

const UNDER_NODE = runtime.name === "node";
const HERE = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
/** The repository: here under Deno; above the build under Node, if the build sits in the repository. */
const REPO = UNDER_NODE ? (existsSync(join(HERE, "..", "deno.json")) ? join(HERE, "..") : undefined) : HERE;
/** How to run Deno: this very binary under Deno; under Node, `$CYBERDB_DENO` (set by `test:node`) or npx. */
const DENO = UNDER_NODE ? (process.env.CYBERDB_DENO ? [process.env.CYBERDB_DENO] : ["npx", "-y", "deno@2"]) : [
  process.execPath,
];
const PASSWORD = "interop pässword";

/** Runs a command to its end (bounded by `ms`) and asserts that it exits 0; returns its output. */
async function succeed(command: string[], options: { cwd?: string; ms?: number } = {}) {
  const done = await run(command[0], command.slice(1), { ms: 120_000, ...options });
  assert.equal(done.code, 0, `${command.join(" ")} exited ${done.code}:\n${done.stdout}\n${done.stderr}`);
  return done;
}

/** A server command in a child process, on a free port, with a password; resolves once it listens. */
async function startServerProcess(command: string[], encrypt: boolean): Promise<{ port: number; child: Child }> {
  const args = ["--port", "0", "--password", PASSWORD, ...(encrypt ? ["--encrypt"] : [])];
  const child = start(command[0], [...command.slice(1), ...args]);
  try {
    const [, port] = await child.waitFor(/listening on \S+:(\d+)/);
    return { port: Number(port), child };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * The npm package to test, and a function that removes it when it was built
 * for this test: under Node, the build these tests were compiled into.
 */
async function npmPackage(): Promise<{ dir: string; remove(): Promise<void> }> {
  if (UNDER_NODE) return { dir: HERE, remove: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_npm_"));
  try {
    await succeed([...DENO, "run", "-A", join(HERE, "scripts/build_npm.ts"), "--tests", "--out", dir], { ms: 300_000 });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

test("the npm build's package.json has the name, version and npm imports of deno.json, every entry point and the bin", async () => {
  const built = await npmPackage();
  try {
    const manifest = JSON.parse(await readFile(join(built.dir, "package.json"), "utf8"));
    assert.equal(manifest.name, "cyberdb");
    assert.equal(manifest.type, "module");
    assert.equal(manifest.license, "MIT");
    assert.match(manifest.repository.url, /^git\+https:\/\/[^/]+\/.+\.git$/, "a public https remote ending in .git");
    assert.equal(manifest.homepage, `${manifest.repository.url.slice(4, -4)}#readme`);
    assert.equal(manifest.bugs.url, `${manifest.repository.url.slice(4, -4)}/issues`);
    assert.equal(manifest.engines.node, ">=20.19");
    // npm 11 drops a bin path that starts with "./" ("script name … was invalid and removed").
    assert.deepEqual(manifest.bin, { "cyberdb-server": "server.js", "cyberdb": "client.js" });
    for (const [entry, file] of [[".", "mod"], ["./client", "client"], ["./server", "server"]]) {
      assert.deepEqual(manifest.exports[entry], {
        types: `./${file}.d.ts`,
        import: `./${file}.js`,
        require: `./${file}.js`,
        default: `./${file}.js`,
      });
      for (const name of [`${file}.js`, `${file}.d.ts`, `${file}.js.map`, `${file}.d.ts.map`, `ts/${file}.ts`]) {
        assert.ok(existsSync(join(built.dir, name)), `${name} is built`);
      }
      // The maps point at the TypeScript the package ships, so stack traces and go-to-definition land there.
      for (const map of [`${file}.js.map`, `${file}.d.ts.map`]) {
        const { sources } = JSON.parse(await readFile(join(built.dir, map), "utf8"));
        assert.deepEqual(sources, [`ts/${file}.ts`], map);
      }
    }
    for (const name of ["README.md", "LICENSE"]) assert.ok(existsSync(join(built.dir, name)), `${name} is copied`);
    // The Deno runtime does not ship: the package's runtime/mod.js picks Node's and imports nothing of Deno's.
    for (const dir of ["src/runtime", "ts/src/runtime"]) {
      const deno = (await readdir(join(built.dir, dir))).filter((name) => /^(deno|_deno_)/.test(name));
      assert.deepEqual(deno, [], `${dir} holds no Deno runtime file`);
    }
    assert.doesNotMatch(await readFile(join(built.dir, "src/runtime/mod.js"), "utf8"), /deno\.js|denoRuntime/);
    if (REPO !== undefined) {
      const config = JSON.parse(await readFile(join(REPO, "deno.json"), "utf8"));
      assert.equal(manifest.version, config.version);
      const npmImports = Object.values(config.imports as Record<string, string>).filter((s) => s.startsWith("npm:"));
      const declared = { ...manifest.dependencies, ...manifest.peerDependencies };
      assert.deepEqual(
        Object.entries(declared).map(([name, range]) => `npm:${name}@${range}`).sort(),
        npmImports.sort(),
      );
      // ioredis is loaded only by connectRedis(): an optional peer, not installed for every user.
      assert.equal(manifest.dependencies.ioredis, undefined);
      assert.ok(manifest.peerDependencies.ioredis);
      assert.deepEqual(manifest.peerDependenciesMeta.ioredis, { optional: true });
    }
  } finally {
    await built.remove();
  }
});

const CONSUMER_MJS = `import { connect, Server } from "cyberdb";
const server = new Server();
const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
const client = await connect({ hostname: "127.0.0.1", port });
const proxy = await client.getProxy().connect();
const centre = await proxy.createCyberDict("centre");
await centre.set("content", "Hello from ESM");
console.log(await centre.get("content"));
await proxy.close();
await client.close();
await server.close();
`;

const CONSUMER_CJS = `const { connect, Server } = require("cyberdb");
(async () => {
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  const client = await connect({ hostname: "127.0.0.1", port });
  const proxy = await client.getProxy().connect();
  const centre = await proxy.createCyberDict("centre");
  await centre.set("content", "Hello from CommonJS");
  console.log(await centre.get("content"));
  await proxy.close();
  await client.close();
  await server.close();
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const CONSUMER_TS = `import { connect, type CyberDict, CyberDBError, KeyNotFoundError, Server } from "cyberdb";
import { connect as connectClient, type ConnectOptions } from "cyberdb/client";
import { main, Server as CommandServer } from "cyberdb/server";

const server: Server = new Server({ log: false });
const { port }: { hostname: string; port: number } = await server.start({ hostname: "127.0.0.1", port: 0 });
const options: ConnectOptions = { hostname: "127.0.0.1", port };
const client = await connect(options);
{
  await using proxy = await client.getProxy().connect();
  const dict: CyberDict = await proxy.createCyberDict("typed");
  await dict.set("n", 1);
  const n: number = await dict.increment("n");
  const popped: unknown = await dict.pop("missing", null);
  // @ts-expect-error: keys are strings or numbers
  await dict.get(true);
  const list = await proxy.createCyberList("list", [3, 1, 2]);
  const length: number = await list.push(4);
  await list.sort({ descending: true });
  console.log(n, popped, length);
}
try {
  await (await connectClient(options)).close();
} catch (error) {
  if (error instanceof KeyNotFoundError || error instanceof CyberDBError) console.log(error.code);
}
const exitCode: Promise<number> = main(["--help"]);
console.log(CommandServer === Server, exitCode);
await client.close();
await server.close();
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    skipLibCheck: false,
    noEmit: true,
  },
  files: ["consumer.ts"],
};

test("the packed tarball installs into a fresh project and works from ESM, CommonJS, TypeScript and npx", async () => {
  const built = await npmPackage();
  const project = await mkdtemp(join(tmpdir(), "cyberdb_consumer_"));
  try {
    await succeed(["npm", "pack", built.dir, "--pack-destination", project, "--loglevel=error"], { cwd: project });
    const tarball = (await readdir(project)).find((name) => name.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote no tarball");
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const nodeTypes = JSON.parse(
      await readFile(join(built.dir, "node_modules/@types/node/package.json"), "utf8"),
    ).version;
    await succeed(
      ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", `./${tarball}`, `@types/node@${nodeTypes}`],
      { cwd: project, ms: 300_000 },
    );

    await writeFile(join(project, "consumer.mjs"), CONSUMER_MJS);
    assert.equal((await succeed(["node", "consumer.mjs"], { cwd: project })).stdout.trim(), "Hello from ESM");

    await writeFile(join(project, "consumer.cjs"), CONSUMER_CJS);
    assert.equal((await succeed(["node", "consumer.cjs"], { cwd: project })).stdout.trim(), "Hello from CommonJS");

    await writeFile(join(project, "consumer.ts"), CONSUMER_TS);
    await writeFile(join(project, "tsconfig.json"), JSON.stringify(CONSUMER_TSCONFIG));
    await succeed(["node", join(built.dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], {
      cwd: project,
    });

    // The README's Node form of the Use it sample (try / finally, for Node < 24), as printed but for the port.
    const [sample] = await samples(join(REPO ?? built.dir, "README.md"), "Use it", "js");
    assert.match(sample, /from "cyberdb"/);
    await writeFile(join(project, "sample.mjs"), sample.replaceAll("9980", String(await freePort())));
    assert.equal((await succeed(["node", "sample.mjs"], { cwd: project })).stdout, SAMPLE_OUTPUT);

    const help = await succeed(["npx", "cyberdb-server", "--help"], { cwd: project });
    assert.match(help.stdout, /^Usage: cyberdb-server/);
    assert.match((await succeed(["npx", "cyberdb", "--help"], { cwd: project })).stdout, /^Usage:/);
  } finally {
    await rm(project, { recursive: true, force: true });
    await built.remove();
  }
});

/** Runs a server in one runtime and a client in the other, each way round, plain and encrypted. */
async function interop(serverRuntime: "deno" | "node"): Promise<void> {
  assert.ok(REPO !== undefined, "the repository (for Deno's side) is not above this build");
  const built = await npmPackage();
  try {
    const serverCommand = serverRuntime === "deno"
      ? [...DENO, "run", "-A", join(REPO, "server.ts")]
      : ["node", join(built.dir, "server.js")];
    const clientCommand = serverRuntime === "deno"
      ? ["node", join(built.dir, "tests/_interop_client.js")]
      : [...DENO, "run", "-A", join(REPO, "tests/_interop_client.ts")];
    for (const encrypt of [false, true]) {
      const server = await startServerProcess(serverCommand, encrypt);
      try {
        const where = [String(server.port), PASSWORD, encrypt ? "yes" : "no"];
        // The child writes and reads back; this process reads what it wrote, and the other way round.
        await succeed([...clientCommand, ...where, "write", "from child"]);
        const client = await connect({ hostname: "127.0.0.1", port: server.port, password: PASSWORD, encrypt });
        try {
          await using proxy = await client.getProxy().connect();
          await checkValues(proxy, "from child");
          await writeValues(proxy, "from test");
        } finally {
          await client.close();
        }
        await succeed([...clientCommand, ...where, "check", "from test"]);
        server.child.signal("SIGTERM");
        assert.equal((await server.child.exit(10_000)).code, 0, server.child.stderr);
      } finally {
        await server.child.stop();
      }
    }
  } finally {
    await built.remove();
  }
}

test(
  "a Deno server and a Node client (npm build) exchange every value type exactly, plain and encrypted",
  { skip: REPO === undefined ? "the build is not inside the repository, so Deno has no sources to run" : false },
  () => interop("deno"),
);

test(
  "a Node server (npm build) and a Deno client exchange every value type exactly, plain and encrypted",
  { skip: REPO === undefined ? "the build is not inside the repository, so Deno has no sources to run" : false },
  () => interop("node"),
);
