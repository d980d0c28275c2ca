/**
 * Atomic batches on Redis: the client side of the `cdb_batch` script
 * (`lua_batch.ts`). Every table of a batch must hash to one slot — a shared
 * `{tag}` in their names (`keys.ts`) — so the script can run on one node,
 * in a Cluster too; a batch over several slots is refused with
 * `UNSUPPORTED`, on one node as well, so an app behaves the same when it
 * moves to a Cluster.
 *
 * Each op's arguments are checked and encoded here as the op alone would
 * be; its reply is turned into the op's result as the op alone would. A
 * check compares bytes in the script; when the stored bytes differ from the
 * expected value's, the value may still be deep-equal (another order of
 * keys), so the script answers with the stored bytes, this side compares
 * with `deepEqual`, and either reports the failed check or runs the batch
 * again expecting those bytes — at most `MAX_ATTEMPTS` times.
 *
 * Not in a Redis batch (refused with `UNSUPPORTED`): the ops computed by the
 * client (`remove`, `sort`, `increment` by a bigint) and expiry.
 *
 * @module
 */
import { BadRequestError, CyberDBError, errorFromCode, TimeoutError, UnsupportedError } from "../../errors.ts";
import { checkArguments } from "../../protocol/codec.ts";
import { entries } from "../../store/dict_ops.ts";
import { expiryOf } from "../../store/expiry.ts";
import { checkRequest, opWrites } from "../../store/store.ts";
import { assertInteger, assertKey, deepEqual, type Key } from "../../store/values.ts";
import { type Arg, copyOf, fromBytes, type RedisCalls, ScriptError, text, toBytes, translate } from "./calls.ts";
import { holds, MAX_ATTEMPTS } from "./dict_ops.ts";
import { fieldKey, keyField } from "./keys.ts";
import { BATCH_OPS } from "./lua_batch.ts";

type Step = [string, string, ...unknown[]];

const SUPPORTED = new Set(BATCH_OPS);
const orNull = (reply: unknown) => (reply === null ? undefined : fromBytes(reply));
const none = () => undefined;

/** How each op's arguments go to the script, and its reply comes back. */
const CODECS: Record<string, { args(op: string, a: unknown[]): Arg[]; result(reply: unknown, a: unknown[]): unknown }> =
  {
    "d.set": { args: (op, a) => (noExpiry(op, a[2]), [field(op, a[0]), toBytes(a[1])]), result: none },
    "d.delete": { args: (op, a) => [field(op, a[0])], result: (r) => r === 1 },
    "d.clear": { args: () => [], result: none },
    "d.setDefault": {
      args: (op, a) => (noExpiry(op, a[2]), [field(op, a[0]), toBytes(a[1])]),
      result: (r, a) => ((r as unknown[])[0] === 1 ? fromBytes((r as unknown[])[1]) : copyOf(a[1])),
    },
    "d.update": {
      args(op, a) {
        noExpiry(op, a[1]);
        const flat: Arg[] = [];
        for (const [key, value] of entries(op, a[0])) flat.push(keyField(key), toBytes(value));
        return flat;
      },
      result: none,
    },
    "d.pop": {
      args: (op, a) => [field(op, a[0]), a.length > 1 ? "1" : "0"],
      result: (r, a) => (r === null ? copyOf(a[1]) : fromBytes(r)),
    },
    "d.popItem": {
      args: () => [],
      result: (r) => [fieldKey(text((r as unknown[])[0])), fromBytes((r as unknown[])[1])],
    },
    "d.increment": {
      args(op, a) {
        const by = a.length > 1 ? a[1] : 1;
        if (typeof by === "bigint") {
          throw new UnsupportedError(
            "increment by a bigint is computed by the client on the redis engine, so it cannot be part of an " +
              "atomic batch there; increment outside the batch, or use the memory or remote engine",
          );
        }
        if (typeof by !== "number" || !Number.isFinite(by)) {
          throw new BadRequestError(`${op}: the amount must be a finite number or a bigint`);
        }
        return [field(op, a[0]), String(by)];
      },
      result: (r) => fromBytes((r as unknown[])[1]),
    },
    "l.set": { args: (op, a) => [index(op, a[0]), toBytes(a[1])], result: none },
    "l.push": { args: (_op, a) => a.map(toBytes), result: (r) => r },
    "l.pop": { args: (op, a) => (a[0] === undefined ? [] : [index(op, a[0])]), result: orNull },
    "l.shift": { args: () => [], result: orNull },
    "l.unshift": { args: (_op, a) => a.map(toBytes), result: (r) => r },
    "l.insert": { args: (op, a) => [index(op, a[0]), toBytes(a[1])], result: none },
    "l.splice": {
      args: (op, a) => [
        index(op, a[0], "start"),
        a.length > 1 ? index(op, a[1], "deleteCount") : "",
        ...a.slice(2).map(toBytes),
      ],
      result: (r) => (r as unknown[]).map(fromBytes),
    },
    "l.reverse": { args: () => [], result: none },
    "l.clear": { args: () => [], result: none },
  };

function field(op: string, key: unknown): string {
  assertKey(op, key);
  return keyField(key);
}

function index(op: string, value: unknown, name = "index"): string {
  assertInteger(op, name, value);
  return String(value);
}

function noExpiry(op: string, options: unknown): void {
  if (expiryOf(op, options) !== 0) {
    throw new UnsupportedError(`${op}: the redis engine has no expiry of entries yet; use the memory or remote engine`);
  }
}

function isKey(where: unknown): where is Key {
  return typeof where === "string" || (typeof where === "number" && Number.isFinite(where));
}

/** The steps, checked as the memory engine checks them: checks first, then write ops. */
function parse(steps: unknown): { checks: Step[]; ops: Step[] } {
  if (!Array.isArray(steps) || steps.length === 0) {
    throw new BadRequestError("atomic: expected a non-empty array of steps");
  }
  const checks: Step[] = [], ops: Step[] = [];
  for (const [i, step] of steps.entries()) {
    if (!Array.isArray(step) || step.length < 2 || typeof step[0] !== "string" || typeof step[1] !== "string") {
      throw new BadRequestError(`atomic: step ${i} must be [op, table, ...args]`);
    }
    if (step[0] === "check") {
      if (step.length !== 3 && step.length !== 4) {
        throw new BadRequestError(`atomic: step ${i} must be ["check", table, key or index, expected?]`);
      }
      checks.push(step as Step);
    } else if (!/^[dl]\./.test(step[0]) || opWrites(step[0]) !== true) {
      throw new BadRequestError(
        `atomic: step ${i} (${JSON.stringify(step[0]).slice(0, 40)}) is not a write op of a CyberDict or CyberList`,
      );
    } else ops.push(step as Step);
  }
  return { checks, ops };
}

function opError(i: number, op: string, table: string, error: CyberDBError): CyberDBError {
  return errorFromCode(error.code, `atomic op ${i} (${op} on ${JSON.stringify(table)}): ${error.message}`);
}

/**
 * Applies a batch: every check, then every op, in one script, all or nothing.
 *
 * @param c the engine
 * @param steps the batch's steps, as `proxy.atomic()` sends them
 * @returns the ops' results, or `{ failed }` when a check failed
 * @throws {UnsupportedError} when the tables are in more than one slot, or for an op a Redis batch cannot run
 * @throws {CyberDBError} the failing op's error, its message starting `atomic op <index>`; nothing applied
 */
export async function runBatch(c: RedisCalls, steps: unknown): Promise<unknown[] | { failed: number }> {
  const { checks, ops } = parse(steps);
  const tables: string[] = [], at = new Map<string, number>();
  const slot = (name: string) => {
    if (!at.has(name)) {
      tables.push(name);
      at.set(name, tables.length);
    }
    return String(at.get(name));
  };
  const checkArgs: Arg[][] = checks.map(([, table, where, ...expected]) => [
    slot(table),
    isKey(where) ? keyField(where) : "",
    Number.isSafeInteger(where) ? String(where) : "",
    expected.length === 0 ? "" : toBytes(expected[0]),
  ]);
  const opArgs: Arg[] = [];
  let refused: CyberDBError | undefined; // an op's arguments refused here: the batch fails there, at the latest
  let sent = 0;
  for (const [i, [op, table, ...a]] of ops.entries()) {
    const codec = CODECS[op];
    try {
      if (codec === undefined || !SUPPORTED.has(op)) {
        throw new UnsupportedError(
          `${op} cannot be part of an atomic batch on the redis engine (` +
            (op.startsWith("l.") ? "it is computed by the client: " : "no expiry on redis: ") +
            "apply it outside the batch, or use the memory or remote engine)",
        );
      }
      checkRequest(op, table, a);
      checkArguments(op, a);
      const args = codec.args(op, a);
      opArgs.push(op, slot(table), String(args.length), ...args);
      sent++;
    } catch (error) {
      if (!(error instanceof CyberDBError)) throw error;
      // Unsupported ops are refused at once; bad arguments after the ops before them and the table's own check.
      if (error.code === "UNSUPPORTED") throw opError(i, op, table, error);
      refused = opError(i, op, table, error);
      opArgs.push(`!${op}`, slot(table), "0");
      sent++;
      break;
    }
  }
  const keys = tables.map((name) => c.keys(name));
  if (keys.some((k) => k.slot !== keys[0].slot)) {
    throw new UnsupportedError(
      `atomic: on the redis engine every table of a batch must hash to one slot, and ${
        tables.map((name) => JSON.stringify(name)).join(", ")
      } do not; put a shared hash tag in their names (e.g. "{bank}accounts" and "{bank}ledger") ` +
        "so Redis keeps them in one slot",
    );
  }
  const flatKeys = keys.flatMap((k) => [k.base, k.order]);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const argv = [String(checks.length), String(sent), ...checkArgs.flat(), ...opArgs];
    const reply = await c.run("cdb_batch", flatKeys, argv) as unknown[];
    const kind = text(reply[0]);
    if (kind === "ok") {
      const results = reply[1] as unknown[];
      return ops.map(([op, , ...a], i) => CODECS[op].result(results[i], a));
    }
    const i = reply[1] as number;
    if (kind === "c") return { failed: i };
    if (kind === "x") {
      if (!deepEqual(fromBytes(reply[2]), checks[i][3])) return { failed: i };
      checkArgs[i][3] = reply[2] as Arg; // deep-equal in other bytes: expect those from now on
      continue;
    }
    const [code, ...rest] = text(reply[2]).split(" ");
    const detail = rest.join(" ");
    if (kind === "t") {
      if (code === "NO_SUCH_TABLE") throw translate("d.get", checks[i][1], [], new ScriptError(code, ""));
      throw new BadRequestError(
        detail === "CyberDict"
          ? "atomic: a check on a CyberDict needs a key (a string or a finite number)"
          : "atomic: a check on a CyberList needs an integer index",
      );
    }
    if (code === "CLIENT" && refused !== undefined) throw refused;
    const [op, table, ...a] = ops[i];
    const error = code === "WRONG_TYPE" && op === "d.increment" && detail === ""
      ? holds(a[0] as Key, fromBytes(reply[3]), a.length > 1 ? a[1] as number : 1)
      : translate(op, table, a, new ScriptError(code, detail));
    throw opError(i, op, table, error);
  }
  throw new TimeoutError(`atomic: a checked value kept changing over ${MAX_ATTEMPTS} attempts; nothing was applied`);
}
