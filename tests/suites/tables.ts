/**
 * Shared suite: the table operations of a proxy (create with initial
 * values, get, delete, list), proxy behaviour (closed, never connected,
 * closed after its client), and pipelined order on one proxy and across many,
 * on one engine. Each test names its tables with a fresh prefix and looks
 * only at those in `tables()`, since the engine is shared by the suite.
 *
 * @module
 */
import assert from "node:assert/strict";
import { NoSuchTableError, type Proxy, ProxyClosedError, TableExistsError, WrongTypeError } from "../../mod.ts";
import { freshName } from "../_engines.ts";
import type { EngineSuite } from "../_suite.ts";

const isWrongType = (e: unknown) => e instanceof WrongTypeError && e.code === "WRONG_TYPE";
const isNoSuchTable = (e: unknown) => e instanceof NoSuchTableError && e.code === "NO_SUCH_TABLE";
const isTableExists = (e: unknown) => e instanceof TableExistsError && e.code === "TABLE_EXISTS";
const isProxyClosed = (e: unknown) => e instanceof ProxyClosedError && e.code === "PROXY_CLOSED";

/** This test's tables in `tables()` order, with the prefix taken off their names. */
async function ownTables(proxy: Proxy, prefix: string): Promise<{ name: string; type: string }[]> {
  return (await proxy.tables())
    .filter((table) => table.name.startsWith(prefix))
    .map((table) => ({ name: table.name.slice(prefix.length), type: table.type }));
}

/** Registers the table and proxy tests on `suite`'s engine. */
export function tablesSuite(suite: EngineSuite): void {
  suite.test(`createCyberDict() and createCyberList() store their initial values`, () =>
    suite.withProxy(async (proxy) => {
      const p = `${freshName("init")}_`;
      const fromObject = await proxy.createCyberDict(`${p}o`, { a: 1, b: [2] });
      assert.deepStrictEqual(await fromObject.entries(), [["a", 1], ["b", [2]]]);
      const fromMap = await proxy.createCyberDict(
        `${p}m`,
        new Map<string | number, unknown>([[1, "one"], ["1", "str"]]),
      );
      assert.deepStrictEqual(await fromMap.entries(), [[1, "one"], ["1", "str"]]);
      const fromEntries = await proxy.createCyberDict(`${p}e`, [["x", null], ["y", false]]);
      assert.deepStrictEqual(await fromEntries.entries(), [["x", null], ["y", false]]);
      assert.deepStrictEqual(await (await proxy.createCyberDict(`${p}empty`)).size(), 0);
      const fromArray = await proxy.createCyberList(`${p}la`, [3, { b: 2 }, 1]);
      assert.deepStrictEqual(await fromArray.toArray(), [3, { b: 2 }, 1]);
      const fromSet = await proxy.createCyberList(`${p}ls`, new Set(["x", "y"]));
      assert.deepStrictEqual(await fromSet.toArray(), ["x", "y"]);
      assert.deepStrictEqual(await (await proxy.createCyberList(`${p}le`)).toArray(), []);
    }));

  suite.test(`creating a table whose name exists rejects with TABLE_EXISTS and keeps the old table`, () =>
    suite.withProxy(async (proxy) => {
      const p = `${freshName("exists")}_`;
      const d = await proxy.createCyberDict(`${p}taken`, { keep: true });
      await assert.rejects(proxy.createCyberDict(`${p}taken`), isTableExists);
      await assert.rejects(proxy.createCyberList(`${p}taken`, [1]), isTableExists);
      assert.deepStrictEqual(await d.toObject(), { keep: true });
      await proxy.createCyberList(`${p}list`);
      await assert.rejects(proxy.createCyberDict(`${p}list`), isTableExists);
      assert.deepStrictEqual(await ownTables(proxy, p), [
        { name: "taken", type: "CyberDict" },
        { name: "list", type: "CyberList" },
      ]);
    }));

  suite.test(`getCyberDict() and getCyberList() of a missing table reject with NO_SUCH_TABLE`, () =>
    suite.withProxy(async (proxy) => {
      const missing = freshName("missing");
      await assert.rejects(proxy.getCyberDict(missing), isNoSuchTable);
      await assert.rejects(proxy.getCyberList(missing), isNoSuchTable);
    }));

  suite.test(`getting a table as the wrong kind rejects with WRONG_TYPE`, () =>
    suite.withProxy(async (proxy) => {
      const list = freshName("list"), dict = freshName("dict");
      await proxy.createCyberList(list);
      await proxy.createCyberDict(dict);
      await assert.rejects(proxy.getCyberDict(list), isWrongType);
      await assert.rejects(proxy.getCyberList(dict), isWrongType);
    }));

  suite.test(`getCyberDict() and getCyberList() give handles on the same data`, () =>
    suite.withProxy(async (proxy) => {
      const list = freshName("list"), dict = freshName("dict");
      await (await proxy.createCyberDict(dict)).set("a", 1);
      await (await proxy.createCyberList(list)).push("x");
      assert.equal(await (await proxy.getCyberDict(dict)).get("a"), 1);
      assert.deepStrictEqual(await (await proxy.getCyberList(list)).toArray(), ["x"]);
    }));

  suite.test(`deleteTable() removes the table and requests on its handles reject with NO_SUCH_TABLE`, () =>
    suite.withProxy(async (proxy) => {
      const p = `${freshName("delete")}_`;
      const d = await proxy.createCyberDict(`${p}d`, { a: 1 });
      const l = await proxy.createCyberList(`${p}l`, [1]);
      assert.strictEqual(await proxy.deleteTable(`${p}d`), undefined);
      await proxy.deleteTable(`${p}l`);
      assert.deepStrictEqual(await ownTables(proxy, p), []);
      await assert.rejects(d.get("a"), isNoSuchTable);
      await assert.rejects(d.set("a", 2), isNoSuchTable);
      await assert.rejects(d.size(), isNoSuchTable);
      await assert.rejects(l.at(0), isNoSuchTable);
      await assert.rejects(l.push(2), isNoSuchTable);
      await assert.rejects(l.length(), isNoSuchTable);
      await assert.rejects(proxy.getCyberDict(`${p}d`), isNoSuchTable);
    }));

  suite.test(`a name deleted and re-created as the other kind gives WRONG_TYPE on the old handle`, () =>
    suite.withProxy(async (proxy) => {
      const x = freshName("x");
      const d = await proxy.createCyberDict(x, { a: 1 });
      await proxy.deleteTable(x);
      const l = await proxy.createCyberList(x);
      await assert.rejects(d.get("a"), isWrongType);
      assert.strictEqual(await l.length(), 0);
    }));

  suite.test(`deleteTable() of a missing table rejects with NO_SUCH_TABLE`, () =>
    suite.withProxy(async (proxy) => {
      await assert.rejects(proxy.deleteTable(freshName("missing")), isNoSuchTable);
      const d = freshName("d");
      await proxy.createCyberDict(d);
      await proxy.deleteTable(d);
      await assert.rejects(proxy.deleteTable(d), isNoSuchTable);
    }));

  suite.test(`tables() lists every table in creation order with its kind`, () =>
    suite.withProxy(async (proxy) => {
      const p = `${freshName("order")}_`;
      assert.deepStrictEqual(await ownTables(proxy, p), []);
      await proxy.createCyberList(`${p}zeta`);
      await proxy.createCyberDict(`${p}alpha`);
      await proxy.createCyberDict(`${p}mid`);
      await proxy.createCyberList(`${p}beta`);
      await proxy.deleteTable(`${p}alpha`);
      await proxy.createCyberDict(`${p}alpha`); // re-created: now last
      assert.deepStrictEqual(await ownTables(proxy, p), [
        { name: "zeta", type: "CyberList" },
        { name: "mid", type: "CyberDict" },
        { name: "beta", type: "CyberList" },
        { name: "alpha", type: "CyberDict" },
      ]);
    }));

  // ---- proxy behaviour ----

  suite.test("a request on a closed proxy rejects with ProxyClosedError", async () => {
    const p = `${freshName("closed")}_`;
    const proxy = await suite.client.getProxy().connect();
    const d = await proxy.createCyberDict(`${p}d`);
    const l = await proxy.createCyberList(`${p}l`);
    await proxy.close();
    await assert.rejects(d.get("a"), isProxyClosed);
    await assert.rejects(l.push(1), isProxyClosed);
    await assert.rejects(proxy.tables(), isProxyClosed);
    await assert.rejects(proxy.createCyberDict(`${p}other`), isProxyClosed);
    await assert.rejects(proxy.connect(), isProxyClosed, "a closed proxy cannot be reconnected");
    await using fresh = await suite.client.getProxy().connect();
    assert.deepStrictEqual((await ownTables(fresh, p)).map((x) => x.name), ["d", "l"], "the close lost nothing");
  });

  suite.test("a request on a proxy that was never connected rejects with ProxyClosedError", async () => {
    const proxy = suite.client.getProxy();
    await assert.rejects(proxy.tables(), isProxyClosed);
    await assert.rejects(proxy.createCyberList(freshName("l")), isProxyClosed);
  });

  suite.test("proxy.close() after client.close() does nothing and does not throw", async () => {
    const client = await suite.connectAnother();
    const proxy = await client.getProxy().connect();
    await proxy.createCyberDict(freshName("d"));
    await client.close();
    assert.strictEqual(await proxy.close(), undefined);
    assert.strictEqual(await proxy.close(), undefined, "closing twice is fine too");
    await assert.rejects(proxy.tables(), isProxyClosed);
  });

  // ---- order ----

  suite.test(`1000 push() calls on one proxy, not awaited one by one, are applied in order`, () =>
    suite.withList<number>([], async (l) => {
      const pending = [];
      for (let i = 0; i < 1000; i++) pending.push(l.push(i));
      const lengths = await Promise.all(pending);
      assert.deepStrictEqual(lengths, Array.from({ length: 1000 }, (_, i) => i + 1));
      assert.deepStrictEqual(await l.toArray(), Array.from({ length: 1000 }, (_, i) => i));
    }));

  suite.test(`mixed requests on one proxy, not awaited, see each other's effects in issue order`, () =>
    suite.withProxy(async (proxy) => {
      const l = await proxy.createCyberList<string>(freshName("l"));
      const d = await proxy.createCyberDict<number>(freshName("d"));
      const results = await Promise.all([
        l.push("a"),
        l.push("b"),
        d.increment("n"),
        l.pop(),
        d.set("n", 10),
        l.unshift("z"),
        d.increment("n", 5),
        l.toArray(),
        d.pop("n"),
        d.has("n"),
      ]);
      assert.deepStrictEqual(results, [1, 2, 1, "b", undefined, 2, 15, ["z", "a"], 15, false]);
    }));

  suite.test(`40 proxies at once, each firing 200 pushes without awaiting, each keep their own order`, async () => {
    const p = `${freshName("many")}_`;
    const proxies = await Promise.all(Array.from({ length: 40 }, () => suite.client.getProxy().connect()));
    try {
      const lists = await Promise.all(proxies.map((proxy, i) => proxy.createCyberList<number>(`${p}${i}`)));
      const lengths = await Promise.all(lists.flatMap((list) => Array.from({ length: 200 }, (_, i) => list.push(i))));
      for (let i = 0; i < 40; i++) {
        assert.deepEqual(lengths.slice(i * 200, (i + 1) * 200), Array.from({ length: 200 }, (_, n) => n + 1));
        assert.deepEqual(await lists[i].toArray(), Array.from({ length: 200 }, (_, n) => n));
      }
    } finally {
      await Promise.all(proxies.map((proxy) => proxy.close()));
    }
  });

  suite.test("proxy.info() reports every table with its kind and size", () =>
    suite.withDict(async (d, proxy) => {
      await d.update({ a: 1, b: 2 });
      const info = await proxy.info();
      assert.deepStrictEqual(info.tables.find((table) => table.name === d.name), {
        name: d.name,
        type: "CyberDict",
        size: 2,
      });
      assert.ok(info.requests > 0);
    }), { needs: ["info"] });
}
