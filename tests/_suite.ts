/**
 * Test fixture: how a shared suite runs on one engine. {@link engineSuite}
 * registers one `describe` per engine configuration; its engine is started
 * once, before the suite's first test, and stopped after its last. Tests
 * isolate themselves with fresh table names ({@link EngineSuite.withDict},
 * {@link EngineSuite.withList}), never with a fresh server.
 *
 * A test that needs a feature some engine lacks says so (`needs`); on such an
 * engine it is skipped, and the skipped test's name says why.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import type { Client, CyberDict, CyberList, Proxy } from "../mod.ts";
import { type EngineFixture, type EngineHarness, type Feature, freshName } from "./_engines.ts";

/** What a suite body gets: the running engine and how to write its tests. */
export interface EngineSuite {
  /** The engine configuration this suite runs on. */
  readonly harness: EngineHarness;
  /** The client of the started engine (started before the first test). */
  readonly client: Client;
  /** Another, independent client of the same tables; closed with the engine if not before. */
  connectAnother(): Promise<Client>;
  /**
   * Registers a test; skipped, with the reason in its name, when the engine lacks a feature it needs.
   *
   * @param name what holds
   * @param body the test
   * @param options the features the test needs
   */
  test(name: string, body: () => Promise<void>, options?: { needs?: Feature[] }): void;
  /** Leases a proxy of the suite's client, runs `body`, and gives the proxy back. */
  withProxy(body: (proxy: Proxy) => Promise<void>): Promise<void>;
  /** Runs `body` on a new, empty dict with a fresh name (deleted afterwards). */
  withDict<V = unknown>(body: (dict: CyberDict<V>, proxy: Proxy) => Promise<void>): Promise<void>;
  /** Runs `body` on a new list holding `initial`, with a fresh name (deleted afterwards). */
  withList<T = unknown>(initial: T[], body: (list: CyberList<T>, proxy: Proxy) => Promise<void>): Promise<void>;
}

/**
 * Registers a shared suite on one engine: `describe("<engine>: <title>")`
 * with the engine started once around its tests. An unavailable engine
 * registers one skipped test naming the reason instead.
 *
 * @param harness the engine configuration
 * @param title what the suite covers
 * @param body registers the tests
 */
export function engineSuite(harness: EngineHarness, title: string, body: (suite: EngineSuite) => void): void {
  if (harness.unavailable !== undefined) {
    test(`${harness.name}: ${title} (skipped: ${harness.unavailable})`, { skip: true }, () => {});
    return;
  }
  describe(`${harness.name}: ${title}`, () => {
    let fixture: EngineFixture | undefined;
    const started = (): EngineFixture => {
      if (fixture === undefined) throw new Error(`the ${harness.name} engine did not start; see the before hook`);
      return fixture;
    };
    before(async () => {
      fixture = await harness.start();
    });
    after(async () => {
      await fixture?.close();
    });
    const withProxy = async (run: (proxy: Proxy) => Promise<void>) => {
      await using proxy = await started().client.getProxy().connect();
      await run(proxy);
    };
    /** Deletes a test's table afterwards, so a long suite does not hold every test's data. */
    const dropping = async (proxy: Proxy, name: string, run: () => Promise<void>) => {
      try {
        await run();
      } finally {
        await proxy.deleteTable(name).catch(() => {});
      }
    };
    body({
      harness,
      get client() {
        return started().client;
      },
      connectAnother: () => started().connectAnother(),
      test(name, run, options = {}) {
        const missing = (options.needs ?? []).find((feature) => harness.unsupported?.[feature] !== undefined);
        if (missing !== undefined) {
          test(`${name} (skipped on ${harness.name}: ${harness.unsupported![missing]})`, { skip: true }, () => {});
        } else {
          test(name, run);
        }
      },
      withProxy,
      withDict: <V>(run: (dict: CyberDict<V>, proxy: Proxy) => Promise<void>) =>
        withProxy(async (proxy) => {
          const name = freshName("d");
          const dict = await proxy.createCyberDict<V>(name);
          await dropping(proxy, name, () => run(dict, proxy));
        }),
      withList: <T>(initial: T[], run: (list: CyberList<T>, proxy: Proxy) => Promise<void>) =>
        withProxy(async (proxy) => {
          const name = freshName("l");
          const list = await proxy.createCyberList<T>(name, initial);
          await dropping(proxy, name, () => run(list, proxy));
        }),
    });
  });
}
