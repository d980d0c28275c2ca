/**
 * Builds the npm package: compiles `mod.ts`, `client.ts`, `server.ts` and
 * `src/` with `tsc` from the `typescript` npm package (NodeNext modules,
 * strict, `.d.ts` beside each `.js`, `.ts` imports rewritten to `.js`, source
 * and declaration maps pointing at the sources shipped under `ts/`), then
 * writes `package.json` and copies README.md and LICENSE. Type errors fail
 * the build and leave no output.
 *
 * ```sh
 * npx -y deno@2 task build:npm                                  # into npm/
 * npx -y deno@2 run -A scripts/build_npm.ts --tests             # also tests/ into npm/tests/ (for `node --test`)
 * npx -y deno@2 run -A scripts/build_npm.ts --out /tmp/cyberdb  # somewhere else
 * ```
 *
 * The compiler, Node's types and the runtime dependencies are installed
 * once with npm into `npm/.tools/` (git-ignored, never published); the
 * output directory gets a `node_modules` link to them so the built tests run
 * in place. The Deno runtime (`src/runtime/deno.ts`, `_deno_*.ts`) is left
 * out: the package's `src/runtime/mod.ts` picks the Node runtime, which Deno
 * runs too (through its Node compatibility) when a Deno app imports `npm:cyberdb`.
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/** The compiler the package is built with. */
const TYPESCRIPT = "7.0.2";
/** Node's types, for the oldest Node the package supports. */
const NODE_TYPES = "20.19.43";
/** The oldest Node that runs the package (`require()` of ES modules without a flag). */
const NODE_ENGINES = ">=20.19";
/** Where the source lives when `git remote get-url origin` has nothing to say. */
const REPOSITORY = "https://github.com/cyberdb/cyberdb";
const ENTRIES = ["mod.ts", "client.ts", "server.ts"];
/** The commands the package installs: the server, and the shell. */
const BINS = { "cyberdb-server": "server.js", "cyberdb": "client.js" };
/** Web types that Deno has as globals and @types/node 20 only inside `node:` modules. */
const NODE_GLOBALS = `type CryptoKey = import("node:crypto").webcrypto.CryptoKey;\n`;
const SOURCE_DIRS = ["src"];
/** Where the TypeScript sources go in the package, for the source and declaration maps. */
const SOURCES = "ts";
/**
 * Imports of deno.json that the package declares as optional peer dependencies
 * instead: loaded only by the API that needs them (`connectRedis`), installed
 * by the user who calls it. The build tools still get them, for the tests.
 */
const OPTIONAL_PEERS = new Set(["ioredis"]);

/** What {@link build} produces where. */
export interface BuildOptions {
  /** Output directory (default `npm/` in the repository). */
  out?: string;
  /** Also compile `tests/` into `<out>/tests/`. */
  tests?: boolean;
}

interface DenoConfig {
  version: string;
  imports?: Record<string, string>;
}

async function run(command: string, args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  return { ok: code === 0, output: text.decode(stdout) + text.decode(stderr) };
}

/** npm dependencies from deno.json's `npm:` imports: `{ msgpackr: "^2.1.4" }`. */
function dependencies(config: DenoConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const specifier of Object.values(config.imports ?? {})) {
    const match = /^npm:(@?[^@/]+(?:\/[^@/]+)?)@([^/]+)$/.exec(specifier);
    if (match) out[match[1]] = match[2];
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Installs the compiler, Node's types and the runtime dependencies into a
 * directory named after their versions, once; concurrent builds race
 * harmlessly (each installs aside, the first rename wins).
 */
async function tools(deps: Record<string, string>): Promise<string> {
  const spec = { typescript: TYPESCRIPT, "@types/node": NODE_TYPES, ...deps };
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(spec))),
  );
  const key = Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const dir = `${ROOT}/npm/.tools/${key}`;
  if (await exists(`${dir}/node_modules/typescript/package.json`)) return dir;
  const aside = `${dir}.tmp-${crypto.randomUUID()}`;
  await Deno.mkdir(aside, { recursive: true });
  await Deno.writeTextFile(
    `${aside}/package.json`,
    JSON.stringify({ private: true, description: "cyberdb build tools", dependencies: spec }, null, 2),
  );
  const install = await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], aside);
  if (!install.ok) {
    await Deno.remove(aside, { recursive: true });
    throw new Error(`npm install of the build tools failed:\n${install.output}`);
  }
  try {
    await Deno.rename(aside, dir);
  } catch {
    await Deno.remove(aside, { recursive: true }); // another build got there first
  }
  return dir;
}

/** The Deno runtime's files, which the package leaves out. */
const DENO_ONLY = /^(deno|_deno_[a-z_]+)\.ts$/;

/**
 * Removes the Deno runtime from a staged `src/runtime/` and makes its `mod.ts` pick the Node runtime
 * alone, so nothing in the package imports a Deno-only file.
 *
 * @throws {Error} when `mod.ts` no longer has the shape this rewrites (update this function)
 */
async function nodeOnlyRuntime(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (DENO_ONLY.test(entry.name)) await Deno.remove(`${dir}/${entry.name}`);
  }
  const mod = await Deno.readTextFile(`${dir}/mod.ts`);
  const nodeOnly = mod
    .replace(/^import \{ denoRuntime \} from "\.\/deno\.ts";\n/m, "")
    .replace(/"Deno" in globalThis \? denoRuntime : nodeRuntime;/, "nodeRuntime; // the npm build: Node's runtime");
  if (nodeOnly.includes("denoRuntime") || !nodeOnly.includes("Node's runtime")) {
    throw new Error("src/runtime/mod.ts changed shape: update nodeOnlyRuntime() in scripts/build_npm.ts");
  }
  await Deno.writeTextFile(`${dir}/mod.ts`, nodeOnly);
}

/** Copies the files that `keep` accepts from a directory tree in the repository into another. */
async function copyTree(from: string, to: string, keep: (name: string) => boolean): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = `${from}/${entry.name}`;
    if (entry.isDirectory) await copyTree(source, `${to}/${entry.name}`, keep);
    else if (entry.isFile && keep(entry.name)) await Deno.copyFile(source, `${to}/${entry.name}`);
  }
}

const isTypeScript = (name: string) => name.endsWith(".ts");

/**
 * The repository's public address, as npm wants it (`git+https://….git`): the `origin` remote when it is a real
 * `https://` or `git@host:` remote, else {@link REPOSITORY} (a clone's origin may be a local path).
 */
async function repository(): Promise<{ url: string; web: string }> {
  const origin = await run("git", ["remote", "get-url", "origin"], ROOT).catch(() => ({ ok: false, output: "" }));
  const remote = origin.ok ? origin.output.trim() : "";
  const https = remote.replace(/^git\+/, "").replace(/^git@([^:/]+):/, "https://$1/");
  const web = (/^https:\/\/[^/\s]+\/[^\s]+$/.test(https) ? https : REPOSITORY).replace(/\.git$/, "");
  return { url: `git+${web}.git`, web };
}

function tsconfig(out: string, tests: boolean): unknown {
  return {
    compilerOptions: {
      target: "ES2022", // `await using` is lowered: Node 20 cannot parse it
      lib: ["ES2023", "ESNext.Disposable"], // nothing newer than Node 20 has
      module: "NodeNext",
      moduleResolution: "NodeNext",
      rewriteRelativeImportExtensions: true,
      strict: true,
      declaration: true,
      // Stack traces and go-to-definition land in the TypeScript, shipped under ts/.
      sourceMap: true,
      declarationMap: true,
      types: ["node"],
      noEmitOnError: true,
      newLine: "lf",
      rootDir: ".",
      outDir: out,
    },
    // The default would exclude outDir, which holds this staging directory.
    exclude: [],
    include: [
      "node_globals.d.ts",
      ...ENTRIES,
      ...SOURCE_DIRS.map((dir) => `${dir}/**/*.ts`),
      ...(tests ? ["tests/**/*.ts"] : []),
    ],
  };
}

function manifest(config: DenoConfig, deps: Record<string, string>, repo: { url: string; web: string }): unknown {
  const entry = (name: string) => ({
    types: `./${name}.d.ts`,
    import: `./${name}.js`,
    require: `./${name}.js`,
    default: `./${name}.js`,
  });
  return {
    name: "cyberdb",
    version: config.version,
    description:
      "An in-memory database server for TypeScript: CyberDict (a remote Map) and CyberList (a remote Array) shared by many processes",
    keywords: ["database", "in-memory", "key-value", "server", "cyberdb", "deno"],
    license: "MIT",
    repository: { type: "git", url: repo.url },
    homepage: `${repo.web}#readme`,
    bugs: { url: `${repo.web}/issues` },
    type: "module",
    main: "./mod.js",
    types: "./mod.d.ts",
    exports: { ".": entry("mod"), "./client": entry("client"), "./server": entry("server") },
    bin: BINS,
    files: ["*.js", "*.d.ts", "*.map", "src/", `${SOURCES}/*.ts`, `${SOURCES}/src/`, "README.md", "LICENSE"],
    engines: { node: NODE_ENGINES },
    dependencies: Object.fromEntries(Object.entries(deps).filter(([name]) => !OPTIONAL_PEERS.has(name))),
    peerDependencies: Object.fromEntries(Object.entries(deps).filter(([name]) => OPTIONAL_PEERS.has(name))),
    peerDependenciesMeta: Object.fromEntries([...OPTIONAL_PEERS].map((name) => [name, { optional: true }])),
  };
}

/**
 * Builds the package.
 *
 * @param options where to, and whether to compile the tests too
 * @returns the output directory
 * @throws {Error} with the compiler's messages when the code does not type-check, or when npm fails
 */
export async function build(options: BuildOptions = {}): Promise<string> {
  const out = (options.out ?? `${ROOT}/npm`).replace(/\/$/, "");
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as DenoConfig;
  const deps = dependencies(config);
  const toolDir = await tools(deps);

  // Start from an empty output directory; keep the installed tools. The sources are staged in it, under
  // SOURCES/, and compiled from there, so the maps point at files the package ships.
  await Deno.mkdir(out, { recursive: true });
  for await (const entry of Deno.readDir(out)) {
    if (entry.name !== ".tools") await Deno.remove(`${out}/${entry.name}`, { recursive: true });
  }
  const stage = `${out}/${SOURCES}`;
  const scaffolding = ["package.json", "node_globals.d.ts", "tsconfig.json", "node_modules"];
  try {
    await Deno.mkdir(stage);
    for (const file of ENTRIES) await Deno.copyFile(`${ROOT}/${file}`, `${stage}/${file}`);
    for (const dir of SOURCE_DIRS) await copyTree(`${ROOT}/${dir}`, `${stage}/${dir}`, isTypeScript);
    if (options.tests) await copyTree(`${ROOT}/tests`, `${stage}/tests`, isTypeScript);
    await nodeOnlyRuntime(`${stage}/src/runtime`);
    await Deno.writeTextFile(`${stage}/package.json`, JSON.stringify({ type: "module" }));
    await Deno.writeTextFile(`${stage}/node_globals.d.ts`, NODE_GLOBALS);
    await Deno.symlink(`${toolDir}/node_modules`, `${stage}/node_modules`);
    await Deno.writeTextFile(`${stage}/tsconfig.json`, JSON.stringify(tsconfig(out, options.tests ?? false), null, 2));
    const tsc = await run("node", [`${toolDir}/node_modules/typescript/bin/tsc`, "-p", "tsconfig.json"], stage);
    if (!tsc.ok) throw new Error(`tsc ${TYPESCRIPT} found errors:\n${tsc.output}`);
    // Files the tests read at run time: anything that is not TypeScript.
    if (options.tests) await copyTree(`${ROOT}/tests`, `${out}/tests`, (name) => !isTypeScript(name));
  } catch (error) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw error;
  } finally {
    for (const name of scaffolding) await Deno.remove(`${stage}/${name}`).catch(() => {});
  }

  for (const bin of Object.values(BINS)) {
    const path = `${out}/${bin}`;
    await Deno.writeTextFile(path, `#!/usr/bin/env node\n${await Deno.readTextFile(path)}`);
    await Deno.chmod(path, 0o755);
    // The shebang is one more generated line: the source map starts one line later.
    const map = JSON.parse(await Deno.readTextFile(`${path}.map`));
    map.mappings = `;${map.mappings}`;
    await Deno.writeTextFile(`${path}.map`, JSON.stringify(map));
  }
  await Deno.writeTextFile(
    `${out}/package.json`,
    JSON.stringify(manifest(config, deps, await repository()), null, 2) + "\n",
  );
  await Deno.copyFile(`${ROOT}/README.md`, `${out}/README.md`);
  await Deno.copyFile(`${ROOT}/LICENSE`, `${out}/LICENSE`);
  await Deno.symlink(`${toolDir}/node_modules`, `${out}/node_modules`);
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string" }, tests: { type: "boolean" } },
  });
  try {
    const out = await build({ out: values.out, tests: values.tests });
    console.log(`built cyberdb into ${out}`);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
