/**
 * The store: every named table, and the one entry point that applies a
 * request to them. Each request is applied synchronously and completely, or
 * fails with a typed error having changed nothing.
 *
 * @module
 */
import { BadRequestError, NoSuchTableError, TableExistsError, WrongTypeError } from "../errors.ts";
import { LazyArray } from "../protocol/codec.ts";
import type { OpName, TableInfo, TableKind } from "../protocol/messages.ts";
import { DictTable } from "./dict_table.ts";
import { ListTable } from "./list_table.ts";
import { assertInteger, assertKey, type Key } from "./values.ts";

/** A table of either kind. */
export type Table = DictTable | ListTable;

interface OpSpec<T> {
  /** Which table kind the op applies to; `undefined` for store-wide ops. */
  kind?: TableKind;
  /** Least and most arguments after the table name. */
  arity: [number, number];
  /** Whether the op can change the store (and so must be journaled). */
  writes: boolean;
  run(target: T, args: unknown[], op: string): unknown;
}

function dictOp(
  arity: [number, number],
  writes: boolean,
  run: OpSpec<DictTable>["run"],
): OpSpec<DictTable> {
  return { kind: "CyberDict", arity, writes, run };
}

function listOp(
  arity: [number, number],
  writes: boolean,
  run: OpSpec<ListTable>["run"],
): OpSpec<ListTable> {
  return { kind: "CyberList", arity, writes, run };
}

function key(op: string, value: unknown): Key {
  assertKey(op, value);
  return value;
}

function index(op: string, value: unknown, name = "index"): number {
  assertInteger(op, name, value);
  return value;
}

function optionalIndex(
  op: string,
  value: unknown,
  name: string,
): number | undefined {
  return value === undefined ? undefined : index(op, value, name);
}

/**
 * Checks a list of `[key, value]` pairs and returns them (a lazy list is
 * decoded twice: once to check it, once as it is applied).
 *
 * @throws {BadRequestError} for anything else
 */
function entries(op: string, value: unknown): Iterable<[Key, unknown]> {
  if (!Array.isArray(value) && !(value instanceof LazyArray)) {
    throw new BadRequestError(`${op}: expected an array of [key, value] pairs`);
  }
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new BadRequestError(
        `${op}: expected [key, value] pairs, got an item that is not a pair`,
      );
    }
    assertKey(op, pair[0]);
  }
  return value as Iterable<[Key, unknown]>;
}

function sortOptions(
  op: string,
  value: unknown,
): { by?: string; descending?: boolean } {
  if (value === undefined || value === null) return {};
  const options = value as Record<string, unknown>;
  if (
    typeof value !== "object" || Array.isArray(value) ||
    (options.by !== undefined &&
      (typeof options.by !== "string" || options.by === "")) ||
    (options.descending !== undefined &&
      typeof options.descending !== "boolean")
  ) {
    throw new BadRequestError(
      `${op}: options must be { by?: "field.path", descending?: boolean }`,
    );
  }
  return {
    by: options.by as string | undefined,
    descending: options.descending as boolean | undefined,
  };
}

const dictOps = {
  "d.get": dictOp([1, 2], false, (t, a, op) => t.get(key(op, a[0]), a[1])),
  "d.set": dictOp([2, 2], true, (t, a, op) => void t.set(key(op, a[0]), a[1])),
  "d.has": dictOp([1, 1], false, (t, a, op) => t.has(key(op, a[0]))),
  "d.delete": dictOp([1, 1], true, (t, a, op) => t.delete(key(op, a[0]))),
  "d.size": dictOp([0, 0], false, (t) => t.size),
  "d.keys": dictOp([0, 0], false, (t) => t.keys()),
  "d.values": dictOp([0, 0], false, (t) => t.values()),
  "d.entries": dictOp([0, 0], false, (t) => t.entries()),
  "d.clear": dictOp([0, 0], true, (t) => void t.clear()),
  "d.setDefault": dictOp(
    [2, 2],
    true,
    (t, a, op) => t.setDefault(key(op, a[0]), a[1]),
  ),
  "d.update": dictOp([1, 1], true, (t, a, op) => {
    for (const [k, v] of entries(op, a[0])) t.set(k, v);
  }),
  "d.pop": dictOp(
    [1, 2],
    true,
    (t, a, op) => t.pop(key(op, a[0]), a.length > 1, a[1]),
  ),
  "d.popItem": dictOp([0, 0], true, (t) => t.popItem()),
  "d.increment": dictOp([1, 2], true, (t, a, op) => {
    const by = a.length > 1 ? a[1] : 1;
    if (
      (typeof by !== "number" || !Number.isFinite(by)) && typeof by !== "bigint"
    ) {
      throw new BadRequestError(
        `${op}: the amount must be a finite number or a bigint`,
      );
    }
    return t.increment(key(op, a[0]), by);
  }),
} satisfies Record<string, OpSpec<DictTable>>;

const listOps = {
  "l.at": listOp([1, 1], false, (t, a, op) => t.at(index(op, a[0]))),
  "l.set": listOp([2, 2], true, (t, a, op) => t.set(index(op, a[0]), a[1])),
  "l.push": listOp([0, Infinity], true, (t, a) => t.push(a)),
  "l.pop": listOp(
    [0, 1],
    true,
    (t, a, op) => t.pop(optionalIndex(op, a[0], "index")),
  ),
  "l.shift": listOp([0, 0], true, (t) => t.items.shift()),
  "l.unshift": listOp([0, Infinity], true, (t, a) => t.unshift(a)),
  "l.insert": listOp(
    [2, 2],
    true,
    (t, a, op) => t.insert(index(op, a[0]), a[1]),
  ),
  "l.remove": listOp([1, 1], true, (t, a) => t.remove(a[0])),
  "l.count": listOp([1, 1], false, (t, a) => t.count(a[0])),
  "l.indexOf": listOp(
    [1, 2],
    false,
    (t, a, op) => t.indexOf(a[0], optionalIndex(op, a[1], "fromIndex") ?? 0),
  ),
  "l.includes": listOp([1, 1], false, (t, a) => t.indexOf(a[0], 0) >= 0),
  "l.slice": listOp(
    [0, 2],
    false,
    (t, a, op) =>
      t.items.slice(
        optionalIndex(op, a[0], "start"),
        optionalIndex(op, a[1], "end"),
      ),
  ),
  "l.splice": listOp([1, Infinity], true, (t, a, op) => {
    const start = index(op, a[0], "start");
    const deleteCount = a.length > 1 ? index(op, a[1], "deleteCount") : t.items.length;
    return t.splice(start, deleteCount, a.slice(2));
  }),
  "l.reverse": listOp([0, 0], true, (t) => void t.items.reverse()),
  "l.sort": listOp([0, 1], true, (t, a, op) => t.sort(sortOptions(op, a[0]))),
  "l.clear": listOp([0, 0], true, (t) => void (t.items = [])),
  "l.length": listOp([0, 0], false, (t) => t.items.length),
  "l.toArray": listOp([0, 0], false, (t) => t.items.slice()),
} satisfies Record<string, OpSpec<ListTable>>;

const storeOps = {
  tables: { arity: [0, 0], writes: false, run: (s: Store) => s.list() },
  create: {
    arity: [1, 2],
    writes: true,
    run: (s: Store, a: unknown[], op: string) => s.create(a, op),
  },
  open: {
    arity: [1, 1],
    writes: false,
    run: (s: Store, a: unknown[], op: string) => s.open(a, op),
  },
  drop: {
    arity: [0, 0],
    writes: true,
    run: (s: Store, a: unknown[]) => s.drop(a[0] as string),
  },
  // Answered by the session, which knows the server; listed here as a known, read-only op.
  info: { arity: [0, 0], writes: false, run: () => undefined },
} satisfies Record<string, OpSpec<Store>>;

const allOps = { ...dictOps, ...listOps, ...storeOps };
// Every op name of the protocol has an implementation (a missing one fails type-checking here).
const complete: Record<OpName, unknown> = allOps;
const ops = complete as Record<string, OpSpec<never>>;

/**
 * Tells whether an op can change the store.
 *
 * @returns `true` for writes, `false` for reads, `undefined` for an unknown op
 */
export function opWrites(op: string): boolean | undefined {
  return Object.hasOwn(ops, op) ? ops[op].writes : undefined;
}

/** All tables of one server, by name, in creation order. */
export class Store {
  /** The tables, by name, in creation order. */
  readonly tables: Map<string, Table>;

  /** @param tables the initial tables */
  constructor(tables: Map<string, Table> = new Map()) {
    this.tables = tables;
  }

  /**
   * Applies one request.
   *
   * @param op the op name
   * @param table the table name (`""` for `tables`)
   * @param args the op's arguments
   * @returns the op's result (`undefined` for none); an `Encoded` result views the table's
   *   memory, so encode it before applying the next request
   * @throws {CyberDBError} with a code for anything the request got wrong; nothing is changed then
   */
  apply(op: unknown, table: unknown, args: unknown[]): unknown {
    if (typeof op !== "string" || !Object.hasOwn(ops, op)) {
      throw new BadRequestError(
        `unknown op ${describeOp(op)}; client and server versions may differ`,
      );
    }
    const spec = ops[op] as OpSpec<unknown>;
    if (args.length < spec.arity[0] || args.length > spec.arity[1]) {
      const [min, max] = spec.arity;
      const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      throw new BadRequestError(
        `${op}: takes ${expected} arguments, got ${args.length}`,
      );
    }
    if (typeof table !== "string") {
      throw new BadRequestError(`${op}: the table name must be a string`);
    }
    if (spec.kind === undefined) return spec.run(this, [table, ...args], op);
    return spec.run(this.get(table, spec.kind), args, op);
  }

  /** Lists the tables in creation order. */
  list(): TableInfo[] {
    return [...this.tables].map(([name, t]) => ({ name, type: t.kind }));
  }

  /** Lists the tables in creation order with their number of entries or items. */
  sizes(): { name: string; type: TableKind; size: number }[] {
    return [...this.tables].map(([name, t]) => ({ name, type: t.kind, size: t.size }));
  }

  /**
   * Looks up a table and checks its kind.
   *
   * @throws {NoSuchTableError} when it does not exist
   * @throws {WrongTypeError} when it is of the other kind
   */
  get(name: string, kind: TableKind): Table {
    const table = this.tables.get(name);
    if (table === undefined) {
      throw new NoSuchTableError(
        `no table named ${JSON.stringify(name)}; create it first (createCyber${kind.slice(5)})`,
      );
    }
    if (table.kind !== kind) {
      throw new WrongTypeError(
        `table ${JSON.stringify(name)} is a ${table.kind}, not a ${kind}`,
      );
    }
    return table;
  }

  /** `create(name, kind, initial?)`. */
  create([name, kind, initial]: unknown[], op: string): void {
    tableName(op, name);
    if (kind !== "CyberDict" && kind !== "CyberList") {
      throw new BadRequestError(
        `${op}: the kind must be "CyberDict" or "CyberList"`,
      );
    }
    if (this.tables.has(name)) {
      throw new TableExistsError(
        `a table named ${JSON.stringify(name)} exists; get it instead, or delete it first`,
      );
    }
    if (kind === "CyberDict") {
      this.tables.set(
        name,
        new DictTable(initial === undefined ? [] : entries(op, initial)),
      );
    } else {
      if (initial !== undefined && !Array.isArray(initial)) {
        throw new BadRequestError(
          `${op}: a CyberList's initial value must be an array`,
        );
      }
      this.tables.set(name, new ListTable(initial ?? []));
    }
  }

  /** `open(name, kind)`: checks that the table exists and is of that kind. */
  open([name, kind]: unknown[], op: string): void {
    tableName(op, name);
    if (kind !== "CyberDict" && kind !== "CyberList") {
      throw new BadRequestError(`${op}: unknown table kind`);
    }
    this.get(name, kind);
  }

  /**
   * Deletes a table.
   *
   * @throws {NoSuchTableError} when it does not exist
   */
  drop(name: string): void {
    if (!this.tables.delete(name)) {
      throw new NoSuchTableError(
        `no table named ${JSON.stringify(name)} to delete`,
      );
    }
  }
}

/**
 * Names an op from the network for an error message: a string quoted and cut
 * short, anything else by its type (`JSON.stringify` throws on a bigint).
 */
function describeOp(op: unknown): string {
  if (typeof op !== "string") return `(${op === null ? "null" : Array.isArray(op) ? "an array" : `a ${typeof op}`})`;
  return JSON.stringify(op.length > 64 ? `${op.slice(0, 64)}…` : op);
}

function tableName(op: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || name === "" || name.length > 1024) {
    throw new BadRequestError(
      `${op}: a table name must be a non-empty string of at most 1024 characters`,
    );
  }
}
