/**
 * Atomic batches: several checks and writes on any tables, applied as one
 * step or not at all.
 *
 * A batch is one request, `[id, "atomic", "", steps]`, each step
 * `["check", table, key | index]` (must be missing),
 * `["check", table, key | index, expected]` (deep-equal), or a write op
 * `[op, table, ...args]` as it would be sent alone. The checks are evaluated
 * first, against the tables as they were before the batch; one that fails
 * applies nothing. Then the ops are applied in order, each leaving an entry
 * in an undo log; if one fails, the log is played backwards and the tables
 * are exactly as they were (a dict's order of keys included), and the error
 * names the op's index. The undo log holds what the ops touched — a key's
 * previous bytes, a list's previous length or items — never a copy of
 * every table.
 *
 * @module
 */
import { BadRequestError, CyberDBError, errorFromCode } from "../errors.ts";
import { decode, encodeArray, Encoded, LazyArray, WRAPPED_DEPTH } from "../protocol/codec.ts";
import type { TableKind } from "../protocol/messages.ts";
import type { SavedKey } from "./compact_map.ts";
import { DictTable } from "./dict_table.ts";
import type { ListTable } from "./list_table.ts";
import { deepEqual, type Key } from "./values.ts";

/** What a batch is applied to: the store. */
export interface BatchTarget {
  /** The tables by name. */
  readonly tables: Map<string, DictTable | ListTable>;
  /** Looks a table up, refusing a missing one or one of the other kind. */
  get(name: string, kind: TableKind): DictTable | ListTable;
  /** Applies one op (changes reported to watchers as usual). */
  apply(op: unknown, table: unknown, args: unknown[]): unknown;
}

/** A batch's result when a check failed: the failed check's index among the batch's checks. */
export interface FailedCheck {
  /** Index of the check that failed (0 for the batch's first check). */
  failed: number;
}

type Undo = () => void;

const MISSING = Symbol("missing");

/**
 * Applies a batch: every check, then every op, all or nothing.
 *
 * @param target the store
 * @param steps the batch's steps
 * @param writes tells whether an op is a write
 * @returns the ops' results as one encoded array, or {@link FailedCheck}
 * @throws {CyberDBError} the failing op's error, its message starting `atomic op <index>`; nothing is changed then
 */
export function applyBatch(
  target: BatchTarget,
  steps: unknown,
  writes: (op: string) => boolean | undefined,
): Encoded | FailedCheck {
  if (!Array.isArray(steps) || steps.length === 0) {
    throw new BadRequestError("atomic: expected a non-empty array of steps");
  }
  const checks: unknown[][] = [], ops: unknown[][] = [];
  for (const [i, step] of steps.entries()) {
    if (!Array.isArray(step) || step.length < 2 || typeof step[0] !== "string" || typeof step[1] !== "string") {
      throw new BadRequestError(`atomic: step ${i} must be [op, table, ...args]`);
    }
    if (step[0] === "check") {
      if (step.length !== 3 && step.length !== 4) {
        throw new BadRequestError(`atomic: step ${i} must be ["check", table, key or index, expected?]`);
      }
      checks.push(step);
    } else if (!/^[dl]\./.test(step[0]) || writes(step[0]) !== true) {
      throw new BadRequestError(
        `atomic: step ${i} (${JSON.stringify(step[0]).slice(0, 40)}) is not a write op of a CyberDict or CyberList`,
      );
    } else ops.push(step);
  }
  for (const [i, [, table, where, ...expected]] of checks.entries()) {
    if (!passes(target, table as string, where, expected)) return { failed: i };
  }
  const undo: Undo[] = [], held = new Set<DictTable>(), results: unknown[] = [];
  try {
    for (const [i, [op, table, ...args]] of ops.entries()) {
      const before = undoOf(target.tables.get(table as string), op as string, args, held);
      let result: unknown;
      try {
        result = target.apply(op, table, args);
      } catch (error) {
        if (!(error instanceof CyberDBError)) throw error;
        throw errorFromCode(error.code, `atomic op ${i} (${op} on ${JSON.stringify(table)}): ${error.message}`);
      }
      undo.push(before);
      // A stored value's bytes may change under a later op of the batch: keep a copy.
      results.push(result instanceof Encoded ? new Encoded(result.bytes.slice()) : result);
    }
  } catch (error) {
    for (let j = undo.length - 1; j >= 0; j--) undo[j]();
    throw error;
  } finally {
    for (const table of held) table.map.hold(false);
  }
  return new Encoded(encodeArray(results));
}

/** Whether a check holds against the tables as they are. */
function passes(target: BatchTarget, name: string, where: unknown, expected: unknown[]): boolean {
  const table = target.tables.get(name) ?? target.get(name, "CyberDict");
  if (table instanceof DictTable) {
    if (typeof where !== "string" && (typeof where !== "number" || !Number.isFinite(where))) {
      throw new BadRequestError("atomic: a check on a CyberDict needs a key (a string or a finite number)");
    }
    const stored = table.get(where, MISSING);
    if (stored === MISSING) return expected.length === 0;
    return expected.length === 1 && deepEqual(decode((stored as Encoded).bytes, WRAPPED_DEPTH), expected[0]);
  }
  if (!Number.isSafeInteger(where)) throw new BadRequestError("atomic: a check on a CyberList needs an integer index");
  const length = table.size, at = (where as number) < 0 ? length + (where as number) : where as number;
  if (at < 0 || at >= length) return expected.length === 0;
  return expected.length === 1 && deepEqual(table.at(at), expected[0]);
}

function isKey(key: unknown): key is Key {
  return typeof key === "string" || (typeof key === "number" && Number.isFinite(key));
}

/** What puts the table back as it is now, should the op about to be applied be undone. */
function undoOf(table: DictTable | ListTable | undefined, op: string, args: unknown[], held: Set<DictTable>): Undo {
  if (table === undefined) return () => {};
  if (table instanceof DictTable) {
    if (!op.startsWith("d.")) return () => {};
    const map = table.map;
    if (!held.has(table)) {
      map.hold(true);
      held.add(table);
    }
    if (op === "d.clear") return map.saveAll();
    let keys: Key[];
    if (op === "d.update") {
      const pairs = args[0];
      if (!Array.isArray(pairs) && !(pairs instanceof LazyArray)) return () => {};
      const unique = new Set<Key>();
      for (const pair of pairs) if (Array.isArray(pair) && isKey(pair[0])) unique.add(pair[0]);
      keys = [...unique];
    } else if (op === "d.popItem") {
      const last = map.lastKey();
      keys = last === undefined ? [] : [last];
    } else {
      keys = isKey(args[0]) ? [args[0]] : [];
    }
    const saved: [Key, SavedKey | undefined][] = keys.map((key) => [key, map.saveKey(key)]);
    return () => {
      for (let i = saved.length - 1; i >= 0; i--) map.restoreKey(saved[i][0], saved[i][1]);
    };
  }
  if (!op.startsWith("l.")) return () => {};
  const length = table.size;
  if (op === "l.push") return () => table.truncate(length);
  if (op === "l.pop" && args[0] === undefined) {
    const last = table.at(-1);
    return () => void (table.size < length && table.push([last]));
  }
  if (op === "l.set" && Number.isSafeInteger(args[0])) {
    const at = (args[0] as number) < 0 ? length + (args[0] as number) : args[0] as number;
    const before = table.at(at);
    return () => void (at >= 0 && at < table.size && table.set(at, before));
  }
  // Ops that move items (insert, remove, splice, shift, unshift, reverse, sort, clear) cost O(n)
  // already: keeping the items as they were costs no more.
  const items = table.slice();
  return () => table.replaceItems(items);
}
