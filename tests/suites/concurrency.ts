/**
 * Shared suite: many clients at once on one table. Every command is atomic,
 * so no update is lost or applied twice however the requests of 50 clients
 * interleave.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Client, Proxy } from "../../mod.ts";
import { freshName } from "../_engines.ts";
import type { EngineSuite } from "../_suite.ts";

const CLIENTS = 50;

/**
 * Runs `setup` on the suite's client, then `work` on each of 50 other clients
 * of the same tables at once, then `check` on their results.
 */
async function withClients<R>(
  suite: EngineSuite,
  setup: (proxy: Proxy) => Promise<void>,
  work: (proxy: Proxy, client: number) => Promise<R>,
  check: (results: R[], proxy: Proxy) => Promise<void>,
): Promise<void> {
  const clients: Client[] = [];
  try {
    await using proxy = await suite.client.getProxy().connect();
    await setup(proxy);
    for (let c = 0; c < CLIENTS; c++) clients.push(await suite.connectAnother());
    const results = await Promise.all(clients.map(async (client, c) => {
      await using own = await client.getProxy().connect();
      return await work(own, c); // awaited here, before `own` is disposed
    }));
    await check(results, proxy);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
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

/** Registers the concurrency tests on `suite`'s engine. */
export function concurrencySuite(suite: EngineSuite): void {
  suite.test(`50 clients × 200 awaited increments on one key make exactly 10,000`, () => {
    const name = freshName("shared");
    return withClients(
      suite,
      async (proxy) => void await proxy.createCyberDict(name),
      async (proxy) => {
        const counters = await proxy.getCyberDict<number>(name);
        const seen: number[] = [];
        for (let i = 0; i < 200; i++) seen.push(await counters.increment("hits"));
        return seen;
      },
      async (results, proxy) => {
        const counters = await proxy.getCyberDict<number>(name);
        assert.strictEqual(await counters.get("hits"), CLIENTS * 200);
        for (const [c, seen] of results.entries()) {
          assert.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]), `client ${c} saw its counts rise`);
        }
        assertOneToN(results.flat(), CLIENTS * 200, "the values increment resolved to");
      },
    );
  });

  suite.test(`50 clients × 200 pipelined increments on one key make exactly 10,000`, () => {
    const name = freshName("shared");
    return withClients(
      suite,
      async (proxy) => void await proxy.createCyberDict(name),
      async (proxy) => {
        const counters = await proxy.getCyberDict<number>(name);
        return await Promise.all(Array.from({ length: 200 }, () => counters.increment("hits")));
      },
      async (results, proxy) => {
        const counters = await proxy.getCyberDict<number>(name);
        assert.strictEqual(await counters.get("hits"), CLIENTS * 200);
        assertOneToN(results.flat(), CLIENTS * 200, "the values increment resolved to");
      },
    );
  });

  suite.test(`50 clients × 100 pushes to one list leave 5,000 items, each once, each client's in order`, () => {
    const name = freshName("shared");
    return withClients(
      suite,
      async (proxy) => void await proxy.createCyberList(name),
      async (proxy, c) => {
        const jobs = await proxy.getCyberList<string>(name);
        const lengths: number[] = [];
        for (let i = 0; i < 100; i++) lengths.push(await jobs.push(`${c}:${i}`));
        return lengths;
      },
      async (results, proxy) => {
        const items = await (await proxy.getCyberList<string>(name)).toArray();
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
    );
  });
}
