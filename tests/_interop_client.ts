/**
 * The client side of the interop tests: every value type, written by one
 * runtime and read back by another. Also a command, so that a test can run
 * it in a child process under Deno (from the sources) or Node (from the npm
 * build):
 *
 * ```sh
 * deno run -A tests/_interop_client.ts <port> <password or ""> <yes|no: encrypt> <write|check> <table>
 * node npm/tests/_interop_client.js    <port> <password or ""> <yes|no: encrypt> <write|check> <table>
 * ```
 *
 * `write` stores {@link VALUES} in a new CyberDict and a new CyberList named
 * after `table`, then checks them; `check` only checks. The command exits 1
 * and prints what differs when a value does not read back exactly.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type Proxy } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";

/** One value of every kind, falsy ones and nesting included, under a name saying what it is. */
export const VALUES: [string, unknown][] = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["zero", 0],
  ["integer", 42],
  ["negative", -7],
  ["float", 3.25],
  ["max safe integer", Number.MAX_SAFE_INTEGER],
  ["zero bigint", 0n],
  ["small bigint", 5n],
  ["int64 bigint", 2n ** 63n - 1n],
  ["huge bigint", 2n ** 200n],
  ["huge negative bigint", -(3n ** 150n)],
  ["empty string", ""],
  ["string", "Hello CyberDB! héllo 世界 🔑"],
  ["empty bytes", new Uint8Array()],
  ["bytes", new Uint8Array([0, 1, 2, 127, 128, 254, 255])],
  ["epoch", new Date(0)],
  ["date", new Date("2024-02-29T12:34:56.789Z")],
  ["empty array", []],
  ["empty object", {}],
  ["falsy array", [0, "", false, null, [], {}]],
  ["nested", {
    name: "centre",
    tags: ["a", "b"],
    deep: { list: [1, 2n ** 70n, { when: new Date(1), data: new Uint8Array([7, 8]) }], none: null },
  }],
];

/** Stores {@link VALUES} in a new CyberDict `<table> dict` and a new CyberList `<table> list`. */
export async function writeValues(proxy: Proxy, table: string): Promise<void> {
  const dict = await proxy.createCyberDict(`${table} dict`);
  for (const [key, value] of VALUES) await dict.set(key, value);
  await proxy.createCyberList(`${table} list`, VALUES.map(([, value]) => value));
}

/**
 * Reads back what {@link writeValues} stored.
 *
 * @throws {assert.AssertionError} naming the first value that differs in value, type or prototype
 */
export async function checkValues(proxy: Proxy, table: string): Promise<void> {
  const dict = await proxy.getCyberDict(`${table} dict`);
  for (const [key, value] of VALUES) {
    const got = await dict.get(key, "MISSING");
    assert.deepStrictEqual(got, value, `CyberDict value "${key}"`);
    if (value instanceof Uint8Array) assert.strictEqual((got as Uint8Array).constructor, Uint8Array, `"${key}"`);
  }
  assert.deepStrictEqual(await dict.keys(), VALUES.map(([key]) => key));
  const list = await proxy.getCyberList(`${table} list`);
  assert.deepStrictEqual(await list.toArray(), VALUES.map(([, value]) => value), "CyberList values");
}

async function main(args: string[]): Promise<number> {
  const [port, password, encrypt, action, table] = args;
  const client = await connect({
    hostname: "127.0.0.1",
    port: Number(port),
    password: password === "" ? undefined : password,
    encrypt: encrypt === "yes",
  });
  try {
    const proxy = await client.getProxy().connect();
    if (action === "write") await writeValues(proxy, table);
    await checkValues(proxy, table);
    await proxy.close();
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.stack : error);
    return 1;
  } finally {
    await client.close();
  }
}

if (runtime.isMain(import.meta.url)) main(runtime.args()).then((code) => runtime.exit(code));
