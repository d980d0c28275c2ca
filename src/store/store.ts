/**
 * The store: every named table, and the one entry point that applies a
 * request to them. Each request is applied synchronously and completely, or
 * fails with a typed error having changed nothing.
 *
 * @module
 */
import { BadRequestError, NoSuchTableError, TableExistsError, WrongTypeError } from "../errors.ts";
import type { OpName, SessionOp, TableInfo, TableKind } from "../protocol/messages.ts";
import { ChangeFeed } from "./changes.ts";
import { applyBatch } from "./atomic.ts";
import { atTime } from "./clock.ts";
import { dictOps, entries } from "./dict_ops.ts";
import { DictTable } from "./dict_table.ts";
import { givesRelativeTime } from "./expiry.ts";
import { listOps } from "./list_ops.ts";
import { type Emit, ignore, type OpSpec } from "./op_spec.ts";
import { ListTable } from "./list_table.ts";
import { quote } from "./values.ts";

/** A table of either kind. */
export type Table = DictTable | ListTable;

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
  // An atomic batch, applied as one step (see atomic.ts): [steps].
  atomic: {
    arity: [1, 1],
    writes: true,
    run: (s: Store, [, steps]: unknown[]) => s.changes.batch(() => applyBatch(s, steps, opWrites)),
  },
  // A journaled request with the time it was first applied at: [time, [id, op, table, ...args]].
  timed: {
    arity: [2, 2],
    writes: true,
    run: (s: Store, [, time, request]: unknown[], op: string) => {
      if (
        typeof time !== "number" || !Number.isFinite(time) || !Array.isArray(request) || request.length < 3 ||
        request[1] === "timed"
      ) {
        throw new BadRequestError(`${op}: expected [time, [id, op, table, ...args]]`);
      }
      return s.applyAt(time, request[1], request[2], request.slice(3));
    },
  },
} satisfies Record<string, OpSpec<Store>>;

const allOps = { ...dictOps, ...listOps, ...storeOps };
// Every op name of the protocol but the session's has an implementation (a missing one fails
// type-checking here); the session's ops are answered in request.ts.
const complete: Record<Exclude<OpName, SessionOp>, unknown> = allOps;
const ops = complete as Record<string, OpSpec<never>>;

/**
 * Tells whether an op can change the store.
 *
 * @returns `true` for writes, `false` for reads, `undefined` for an op not in the store's table (unknown, or one the session answers)
 */
export function opWrites(op: string): boolean | undefined {
  return Object.hasOwn(ops, op) ? ops[op].writes : undefined;
}

/**
 * Checks what every request needs before it is applied: a known op, its
 * number of arguments, a table name that is a string. Engines that do not
 * run this store (Redis) check requests with it too, to fail alike.
 *
 * @param op the op name
 * @param table the table name (`""` for `tables`)
 * @param args the op's arguments
 * @throws {BadRequestError} when one of them is wrong
 */
export function checkRequest(op: unknown, table: unknown, args: readonly unknown[]): asserts op is OpName {
  if (typeof op !== "string" || !Object.hasOwn(ops, op)) {
    throw new BadRequestError(
      `unknown op ${describeOp(op)}; client and server versions may differ`,
    );
  }
  const spec = ops[op];
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
}

/** All tables of one server, by name, in creation order. */
export class Store {
  /** The tables, by name, in creation order. */
  readonly tables: Map<string, Table>;
  /** Tells watchers about every applied change, in commit order (see `changes.ts`). */
  readonly changes: ChangeFeed = new ChangeFeed();

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
    checkRequest(op, table, args);
    const spec = ops[op] as OpSpec<unknown>;
    if (spec.kind === undefined) return spec.run(this, [table, ...args], op, ignore);
    const changes = this.changes;
    const emit: Emit = changes.watched ? (change) => changes.emit({ table: table as string, ...change }) : ignore;
    return spec.run(this.get(table as string, spec.kind), args, op, emit);
  }

  /**
   * Applies one request as if the clock read `time` (epoch ms).
   *
   * @throws {CyberDBError} as {@link Store.apply} does
   */
  applyAt(time: number, op: unknown, table: unknown, args: unknown[]): unknown {
    return atTime(time, () => this.apply(op, table, args));
  }

  /**
   * Whether a write's outcome depends on the clock: it gives a relative time
   * (`{ expireIn }`, `expire`), or its dict has entries that expire. The
   * journal records such a request with the time it is applied at (the
   * `timed` op), so a replay decides as the original did.
   */
  dependsOnClock(op: unknown, table: unknown, args: readonly unknown[]): boolean {
    if (op === "atomic") return true; // cheap to stamp, and any of its steps may depend on the clock
    if (typeof op !== "string" || !op.startsWith("d.") || opWrites(op) !== true) return false;
    if (givesRelativeTime(op, args)) return true;
    const target = typeof table === "string" ? this.tables.get(table) : undefined;
    return target instanceof DictTable && target.expiring > 0;
  }

  /**
   * One active expiry cycle: removes expired dict entries and goes on with
   * the compaction of dicts that need one, table after table (going on where
   * the last cycle stopped), until `performance.now()` reaches `deadline`.
   *
   * @returns whether it stopped at the deadline with more to look at
   */
  expireSome(deadline: number): boolean {
    const names = [...this.tables.keys()];
    const start = Math.max(0, names.indexOf(this.#expireNext ?? ""));
    for (let i = 0; i < names.length; i++) {
      const name = names[(start + i) % names.length], table = this.tables.get(name)!;
      if (!(table instanceof DictTable) || (table.expiring === 0 && !table.compacting)) continue;
      if (table.expireSome(deadline)) {
        this.#expireNext = name;
        return true;
      }
    }
    this.#expireNext = undefined;
    return false;
  }

  #expireNext: string | undefined;

  /** Lists the tables in creation order. */
  list(): TableInfo[] {
    return [...this.tables].map(([name, t]) => ({ name, type: t.kind }));
  }

  /**
   * Lists the tables in creation order with their number of entries or items, and for a dict
   * with expiring entries how many have an expiry (not yet reclaimed, as Redis's `expires=`).
   */
  sizes(): { name: string; type: TableKind; size: number; expiring?: number }[] {
    return [...this.tables].map(([name, t]) =>
      t instanceof DictTable && t.expiring > 0
        ? { name, type: t.kind, size: t.size, expiring: t.expiring }
        : { name, type: t.kind, size: t.size }
    );
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
        `no table named ${quote(name)}; create it first (createCyber${kind.slice(5)})`,
      );
    }
    if (table.kind !== kind) {
      throw new WrongTypeError(
        `table ${quote(name)} is a ${table.kind}, not a ${kind}`,
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
        `a table named ${quote(name)} exists; get it instead, or delete it first`,
      );
    }
    if (kind === "CyberDict") {
      this.tables.set(
        name,
        this.#watched(name, new DictTable(initial === undefined ? [] : entries(op, initial))),
      );
    } else {
      if (initial !== undefined && !Array.isArray(initial)) {
        throw new BadRequestError(
          `${op}: a CyberList's initial value must be an array`,
        );
      }
      this.tables.set(name, new ListTable(initial ?? []));
    }
    this.changes.emit({ table: name, op: "createTable", type: kind });
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
        `no table named ${quote(name)} to delete`,
      );
    }
    this.changes.emit({ table: name, op: "deleteTable" });
  }

  /**
   * Replaces every table (loading a snapshot), as one change event: each old
   * table deleted, each new one created.
   *
   * @param tables the new tables, in creation order
   */
  replaceAll(tables: Map<string, Table>): void {
    for (const table of this.tables.values()) if (table instanceof DictTable) table.onExpired = undefined;
    this.changes.batch(() => {
      for (const name of this.tables.keys()) this.changes.emit({ table: name, op: "deleteTable" });
      this.tables.clear();
      for (const [name, table] of tables) {
        this.tables.set(name, table instanceof DictTable ? this.#watched(name, table) : table);
        this.changes.emit({ table: name, op: "createTable", type: table.kind });
      }
    });
  }

  /** Makes a dict's expired entries reach the change feed as `{ op: "delete", key, expired: true }`. */
  #watched(name: string, table: DictTable): DictTable {
    table.onExpired = (key) => this.changes.emit({ table: name, op: "delete", key, expired: true });
    return table;
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

/**
 * Checks a table name.
 *
 * @throws {BadRequestError} for anything but a non-empty string of at most 1024 characters
 */
export function tableName(op: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || name === "" || name.length > 1024) {
    throw new BadRequestError(
      `${op}: a table name must be a non-empty string of at most 1024 characters`,
    );
  }
}
