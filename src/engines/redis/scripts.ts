/**
 * The Lua scripts the Redis engine runs: one per op that Redis has no single
 * command for, built from the op functions of `lua_dict.ts` and
 * `lua_list.ts`, plus the atomic batch (`lua_batch.ts`). Each runs
 * atomically on the node that holds its keys (a table's keys share one hash
 * tag, see `keys.ts`). A script reports a failure as an error reply whose
 * message is a cyberdb error code, then details (`INDEX_OUT_OF_RANGE 3`);
 * `calls.ts` turns it into the same error, with the same message, as the
 * other engines give. A dict op on a list (or the other way) fails with
 * Redis's own `WRONGTYPE` at its first command, before any change.
 *
 * A script carries only the helpers its op uses, so the hot ones stay
 * short: every helper is a local function the script defines on each run.
 *
 * Every op that changes a table publishes the change, in the same atomic
 * run, to the table's channel `<base>:w` (see `watch.ts`), so watchers get
 * changes in the order they were applied on that node: one letter, then its
 * fields (`fld`: a 4-byte big-endian length, then the bytes): `s` fld(field)
 * value, `d` field, `c`, `p` fld(value)…, `o`, `S` index(4 bytes) value,
 * `r`, `C` kind, `D`; a batch: `B` fld(change)… (all of one table's), or, for
 * a batch over several tables, `b` fld(change)… on each and `M`
 * (fld(base key) fld(change))… once, for whole-store watchers.
 *
 * @module
 */
import { batchScript } from "./lua_batch.ts";
import { DICT_HELPERS, DICT_OPS, NUMBERS } from "./lua_dict.ts";
import { LIST_HELPERS, LIST_OPS } from "./lua_list.ts";

const COMMON = `
local function fld(f) return struct.pack('>I4', #f) .. f end
local function emit(K, m)
  if BATCH then
    BATCH[#BATCH + 1] = {K.b, m}
    return
  end
  redis.call('PUBLISH', K.b .. ':w', m)
end
`;

/** The helpers, in the order they must be defined (a helper only uses those before it), with their names. */
const HELPERS: [string, string][] = [
  ...split(COMMON),
  ...split(LIST_HELPERS),
  ...split(NUMBERS),
  ...split(DICT_HELPERS),
];

/** Splits helper source into its top-level definitions, each with the name it defines. */
function split(source: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of source.split(/\n(?=local )/)) {
    const text = part.trim();
    if (text === "") continue;
    const name = /^local (?:function )?(\w+)(?:, (\w+))?/.exec(text);
    if (name === null) throw new Error(`scripts.ts: cannot name a helper: ${text.slice(0, 40)}`);
    out.push([name[2] === undefined ? name[1] : `${name[1]},${name[2]}`, text]);
  }
  return out;
}

/** The helpers `body` uses (and those they use), in definition order. */
function helpersFor(body: string): string {
  const needed = new Set<string>();
  const uses = (text: string, name: string) => new RegExp(`\\b(${name.split(",").join("|")})\\b`).test(text);
  let grew = true, text = body;
  while (grew) {
    grew = false;
    for (const [name, source] of HELPERS) {
      if (!needed.has(name) && uses(text, name)) {
        needed.add(name);
        text += "\n" + source;
        grew = true;
      }
    }
  }
  return HELPERS.filter(([name]) => needed.has(name)).map(([, source]) => source).join("\n");
}

/** One op run alone: `KEYS` are the table's keys, `ARGV` the op's arguments. */
function single(body: string, keys: string): string {
  const op = `local op = ${body}`;
  return `local BATCH, UNDO = false, false
${helpersFor(op)}
${op}
local r, e = op(${keys}, ARGV)
if e then return redis.error_reply(e) end
return r`;
}

/** Every op function, by op name (the batch dispatches on these names). */
export const OP_FUNCTIONS: Record<string, string> = { ...DICT_OPS, ...LIST_OPS };

/** One script: how many of its arguments are keys, and its source. */
export interface ScriptSpec {
  /** Number of keys (the rest of the arguments are `ARGV`); `null`: the call passes it first. */
  keys: number | null;
  /** The Lua source. */
  lua: string;
}

const DICT_KEYS = "{b = KEYS[1], o = KEYS[2]}";
const LIST_KEYS = "{b = KEYS[1]}";

function dict(op: string): ScriptSpec {
  return { keys: 2, lua: single(DICT_OPS[op], DICT_KEYS) };
}

function list(op: string): ScriptSpec {
  return { keys: 1, lua: single(LIST_OPS[op], LIST_KEYS) };
}

const CREATE = `function(K, A)
  if redis.call('EXISTS', K.b) == 1 then return nil, 'TABLE_EXISTS' end
  redis.call('DEL', K.o)
  if A[1] == 'CyberDict' then
    redis.call('HSET', K.b, '#', 1)
    putpairs(K, A, 2, false)
  else
    redis.call('RPUSH', K.b, MARK)
    pushall('RPUSH', K.b, A, 2, #A)
  end
  redis.call('PUBLISH', K.b .. ':w', 'C' .. A[1])
  return 1
end`;

/** Every script, by the name ioredis defines it under (`cdb_` + op). */
export const SCRIPTS = {
  // CyberDict: KEYS hash, order
  cdb_dset: dict("d.set"),
  cdb_ddelete: dict("d.delete"),
  cdb_dkeys: dict("d.keys"),
  cdb_dvalues: dict("d.values"),
  cdb_dentries: dict("d.entries"),
  cdb_dclear: dict("d.clear"),
  cdb_dsetdefault: dict("d.setDefault"),
  cdb_dupdate: dict("d.update"),
  cdb_dpop: dict("d.pop"),
  cdb_dpopitem: dict("d.popItem"),
  cdb_dincrement: dict("d.increment"),
  cdb_dcas: dict("d.cas"),
  // CyberList: KEYS list
  cdb_lat: list("l.at"),
  cdb_lset: list("l.set"),
  cdb_lpush: list("l.push"),
  cdb_lpop: list("l.pop"),
  cdb_lshift: list("l.shift"),
  cdb_lunshift: list("l.unshift"),
  cdb_linsert: list("l.insert"),
  cdb_lsnapshot: list("l.snapshot"),
  cdb_lremoveat: list("l.removeAt"),
  cdb_lreplace: list("l.replace"),
  cdb_lslice: list("l.slice"),
  cdb_lsplice: list("l.splice"),
  cdb_lreverse: list("l.reverse"),
  cdb_lclear: list("l.clear"),
  // Tables: KEYS base, order; ARGV kind, then the initial entries (pairs) or items.
  cdb_create: { keys: 2, lua: single(CREATE, DICT_KEYS) },
  cdb_drop: {
    keys: 2,
    lua: `
if redis.call('DEL', KEYS[1]) == 0 then return redis.error_reply('NO_SUCH_TABLE') end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', KEYS[1] .. ':w', 'D')
return 1`,
  },
  // KEYS registry tables, registry seq; ARGV name: lists the name last.
  cdb_register: {
    keys: 2,
    lua: "redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1]) return 1",
  },
  // KEYS: each table's base and order keys; ARGV: see lua_batch.ts.
  cdb_batch: { keys: null, lua: batchScript(OP_FUNCTIONS, helpersFor) },
} satisfies Record<string, ScriptSpec>;

/** The name of a script. */
export type ScriptName = keyof typeof SCRIPTS;
