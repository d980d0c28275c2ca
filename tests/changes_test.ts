import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChangeEvent, ChangeFeed } from "../src/store/changes.ts";
import { Store } from "../src/store/store.ts";
import { CyberDBError } from "../src/errors.ts";

function watched(): { store: Store; events: ChangeEvent[] } {
  const store = new Store();
  const events: ChangeEvent[] = [];
  store.changes.subscribe((event) => events.push(event));
  return { store, events };
}

test("every dict write emits its change, in commit order; reads and no-ops emit nothing", () => {
  const { store, events } = watched();
  store.apply("create", "d", ["CyberDict"]);
  store.apply("d.set", "d", ["a", 1]);
  store.apply("d.get", "d", ["a"]);
  store.apply("d.delete", "d", ["missing"]);
  store.apply("d.setDefault", "d", ["a", 9]);
  store.apply("d.setDefault", "d", ["b", 2]);
  store.apply("d.update", "d", [[["c", 3], [4, "four"]]]);
  store.apply("d.increment", "d", ["a", 5]);
  store.apply("d.pop", "d", ["b"]);
  store.apply("d.pop", "d", ["b", null]);
  store.apply("d.popItem", "d", []);
  store.apply("d.delete", "d", ["c"]);
  store.apply("d.clear", "d", []);
  store.apply("d.clear", "d", []);
  store.apply("drop", "d", []);
  assert.deepEqual(events, [
    { table: "d", op: "createTable", type: "CyberDict" },
    { table: "d", op: "set", key: "a", value: 1 },
    { table: "d", op: "set", key: "b", value: 2 },
    { table: "d", op: "set", key: "c", value: 3 },
    { table: "d", op: "set", key: 4, value: "four" },
    { table: "d", op: "set", key: "a", value: 6 },
    { table: "d", op: "delete", key: "b" },
    { table: "d", op: "delete", key: 4 },
    { table: "d", op: "delete", key: "c" },
    { table: "d", op: "clear" },
    { table: "d", op: "deleteTable" },
  ]);
});

test("list writes emit push, pop, set or replace as documented", () => {
  const { store, events } = watched();
  store.apply("create", "l", ["CyberList", [1, 2, 3]]);
  store.apply("l.push", "l", [4, 5]);
  store.apply("l.push", "l", []);
  store.apply("l.pop", "l", []);
  store.apply("l.pop", "l", [-1]);
  store.apply("l.set", "l", [-1, "x"]);
  store.apply("l.pop", "l", [0]);
  for (const [op, args] of [["l.shift", []], ["l.unshift", [0]], ["l.insert", [1, 7]], ["l.remove", [7]]] as const) {
    store.apply(op, "l", [...args]);
  }
  store.apply("l.splice", "l", [0, 1, "y"]);
  store.apply("l.reverse", "l", []);
  store.apply("l.sort", "l", []);
  store.apply("l.clear", "l", []);
  store.apply("l.pop", "l", []);
  store.apply("l.shift", "l", []);
  store.apply("l.clear", "l", []);
  const replace = { table: "l", op: "replace" };
  assert.deepEqual(events, [
    { table: "l", op: "createTable", type: "CyberList" },
    { table: "l", op: "push", values: [4, 5] },
    { table: "l", op: "pop" },
    { table: "l", op: "pop" },
    { table: "l", op: "set", index: 2, value: "x" },
    replace, // pop(0)
    replace, // shift
    replace, // unshift
    replace, // insert
    replace, // remove
    replace, // splice
    replace, // reverse
    replace, // sort
    replace, // clear
  ]);
});

test("a failed write emits nothing", () => {
  const { store, events } = watched();
  store.apply("create", "l", ["CyberList", [1, "a"]]);
  events.length = 0;
  assert.throws(() => store.apply("l.sort", "l", []), CyberDBError);
  assert.throws(() => store.apply("l.set", "l", [5, 1]), CyberDBError);
  assert.throws(() => store.apply("l.remove", "l", ["zz"]), CyberDBError);
  assert.deepEqual(events, []);
});

test("ChangeFeed.batch delivers its changes as one event, and none when it throws", () => {
  const feed = new ChangeFeed();
  const events: ChangeEvent[] = [];
  const stop = feed.subscribe((e) => events.push(e));
  feed.batch(() => {
    feed.emit({ table: "t", op: "clear" });
    feed.batch(() => feed.emit({ table: "t", op: "set", key: 1, value: 2 }));
  });
  feed.batch(() => feed.emit({ table: "t", op: "clear" }));
  feed.batch(() => {});
  assert.throws(() =>
    feed.batch(() => {
      feed.emit({ table: "t", op: "clear" });
      throw new Error("undone");
    })
  );
  stop();
  stop();
  feed.emit({ table: "t", op: "clear" });
  assert.deepEqual(events, [
    { op: "batch", changes: [{ table: "t", op: "clear" }, { table: "t", op: "set", key: 1, value: 2 }] },
    { table: "t", op: "clear" },
  ]);
  assert.equal(feed.watched, false);
});

test("a listener that unsubscribes another during delivery does not make it miss that event", () => {
  const feed = new ChangeFeed();
  const seen: string[] = [];
  let stopB = () => {};
  feed.subscribe(() => {
    seen.push("a");
    stopB();
  });
  stopB = feed.subscribe(() => void seen.push("b"));
  feed.emit({ table: "t", op: "clear" });
  feed.emit({ table: "t", op: "clear" });
  assert.deepEqual(seen, ["a", "b", "a"]);
});
