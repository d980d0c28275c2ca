/**
 * Many clients at once on one table: every command is atomic, so no update
 * is lost or applied twice however the requests of 50 connections interleave.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Client, connect, type Proxy, type StartOptions } from "../mod.ts";
import { startServer, TRANSPORTS } from "./_server.ts";

const CLIENTS = 50;

/**
 * Starts a server with `setup` run on its fixture client, then runs `work` on
 * each of 50 separately connected clients at once and returns their results.
 */
async function withClients<R>(
  start: StartOptions,
  setup: (proxy: Proxy) => Promise<void>,
  work: (proxy: Proxy, client: number) => Promise<R>,
  check: (results: R[], proxy: Proxy) => Promise<void>,
): Promise<void> {
  const fx = await startServer(start);
  const clients: Client[] = [];
  try {
    await using proxy = await fx.client.getProxy().connect();
    await setup(proxy);
    for (let c = 0; c < CLIENTS; c++) clients.push(await connect(fx.options));
    const results = await Promise.all(clients.map(async (client, c) => {
      await using own = await client.getProxy().connect();
      return await work(own, c); // awaited here, before `own` is disposed
    }));
    await check(results, proxy);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await fx.close();
  }
}

/** Asserts that `values` are exactly 1..n, each once. */
function assertOneToN(values: number[], n: number, what: string): void {
  assert.equal(values.length, n, `${what}: count`);
  const sorted = values.toSorted((a, b) => a - b);
  for (let i = 0; i < n; i++) {
    if (sorted[i] !== i + 1) assert.fail(`${what}: expected each of 1..${n} once; position ${i} holds ${sorted[i]}`);
  }
}

for (const t of TRANSPORTS) {
  test(`${t.name}: 50 clients × 200 awaited increments on one key make exactly 10,000`, () =>
    withClients(
      t.start,
      async (proxy) => void await proxy.createCyberDict("counters"),
      async (proxy) => {
        const counters = await proxy.getCyberDict<number>("counters");
        const seen: number[] = [];
        for (let i = 0; i < 200; i++) seen.push(await counters.increment("hits"));
        return seen;
      },
      async (results, proxy) => {
        const counters = await proxy.getCyberDict<number>("counters");
        assert.strictEqual(await counters.get("hits"), CLIENTS * 200);
        for (const [c, seen] of results.entries()) {
          assert.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]), `client ${c} saw its counts rise`);
        }
        assertOneToN(results.flat(), CLIENTS * 200, "the values increment resolved to");
      },
    ));

  test(`${t.name}: 50 clients × 200 pipelined increments on one key make exactly 10,000`, () =>
    withClients(
      t.start,
      async (proxy) => void await proxy.createCyberDict("counters"),
      async (proxy) => {
        const counters = await proxy.getCyberDict<number>("counters");
        return await Promise.all(Array.from({ length: 200 }, () => counters.increment("hits")));
      },
      async (results, proxy) => {
        const counters = await proxy.getCyberDict<number>("counters");
        assert.strictEqual(await counters.get("hits"), CLIENTS * 200);
        assertOneToN(results.flat(), CLIENTS * 200, "the values increment resolved to");
      },
    ));

  test(`${t.name}: 50 clients × 100 pushes to one list leave 5,000 items, each once, each client's in order`, () =>
    withClients(
      t.start,
      async (proxy) => void await proxy.createCyberList("jobs"),
      async (proxy, c) => {
        const jobs = await proxy.getCyberList<string>("jobs");
        const lengths: number[] = [];
        for (let i = 0; i < 100; i++) lengths.push(await jobs.push(`${c}:${i}`));
        return lengths;
      },
      async (results, proxy) => {
        const items = await (await proxy.getCyberList<string>("jobs")).toArray();
        assert.equal(items.length, CLIENTS * 100);
        assert.equal(new Set(items).size, CLIENTS * 100, "no item twice");
        for (let c = 0; c < CLIENTS; c++) {
          const own = items.filter((item) => item.startsWith(`${c}:`));
          assert.deepStrictEqual(own, Array.from({ length: 100 }, (_, i) => `${c}:${i}`), `client ${c}'s items`);
        }
        assertOneToN(results.flat(), CLIENTS * 100, "the lengths push resolved to");
        for (const [c, lengths] of results.entries()) {
          for (const [i, length] of lengths.entries()) {
            assert.equal(items[length - 1], `${c}:${i}`, `push resolved to the length that includes its own item`);
          }
        }
      },
    ));
}
