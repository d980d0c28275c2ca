/**
 * The Lua scripts the Redis engine runs, one per op that Redis has no single
 * command for (and for every op that must first check the table's kind).
 * Each runs atomically on the node that holds the table (all of a table's
 * keys share one hash tag, see `keys.ts`). A script reports a failure as an
 * error reply whose message is a cyberdb error code, then details
 * (`WRONG_TYPE CyberList`, `INDEX_OUT_OF_RANGE 3`); `ops.ts` turns it into the
 * same error, with the same message, as the other engines give.
 *
 * Conventions: `KEYS[1]` is the table's meta hash; dict scripts get the
 * entries hash and the order set as `KEYS[2]`, `KEYS[3]`; list scripts the
 * list as `KEYS[2]`. Values are our MessagePack bytes. `\193` (0xc1, a byte
 * MessagePack never uses) marks a list item about to be removed or replaced.
 *
 * Every script that changes a table publishes the change, in the same
 * atomic run, to the table's channel `<meta key>:w` (see `watch.ts`), so
 * watchers get changes in the order they were applied on that node: one
 * letter, then its fields (`fld`: a 4-byte big-endian length, then the
 * bytes): `s` fld(field) value, `d` field, `c`, `p` fld(value)…, `o`,
 * `S` index(4 bytes) value, `r`, `C` kind, `D`.
 *
 * @module
 */

const PRELUDE = `
local function need(kind)
  local k = redis.call('HGET', KEYS[1], 'kind')
  if not k then return redis.error_reply('NO_SUCH_TABLE') end
  if k ~= kind then return redis.error_reply('WRONG_TYPE ' .. k) end
end
local TOMB = '\\193'
local function fld(f) return struct.pack('>I4', #f) .. f end
local function pub(m) redis.call('PUBLISH', KEYS[1] .. ':w', m) end
local function bump() redis.call('HINCRBY', KEYS[1], 'ver', 1) end
local function pushall(cmd, key, items, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 999, to)
    redis.call(cmd, key, unpack(items, i, j))
    i = j + 1
  end
end
local function putpairs(from, publish)
  local n = (#ARGV - from + 1) / 2
  if n < 1 then return end
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', n) - n
  local i = from
  while i <= #ARGV do
    local j = math.min(i + 999, #ARGV)
    local z = {}
    for x = i, j, 2 do
      z[#z + 1] = seq + (x - from) / 2 + 1
      z[#z + 1] = ARGV[x]
    end
    redis.call('ZADD', KEYS[3], 'NX', unpack(z))
    redis.call('HSET', KEYS[2], unpack(ARGV, i, j))
    if publish then for x = i, j, 2 do pub('s' .. fld(ARGV[x]) .. ARGV[x + 1]) end end
    i = j + 1
  end
end
local function removeat(at, len)
  if at == len - 1 then return redis.call('RPOP', KEYS[2]) end
  if at == 0 then return redis.call('LPOP', KEYS[2]) end
  local v = redis.call('LINDEX', KEYS[2], at)
  redis.call('LSET', KEYS[2], at, TOMB)
  redis.call('LREM', KEYS[2], (at < len / 2) and 1 or -1, TOMB)
  return v
end
local function bounded(i, len)
  local at = i
  if at < 0 then at = len + at end
  if at < 0 or at >= len then return nil end
  return at
end
`;

// A MessagePack number as msgpackr writes it (ints up to 32 bits, float32/64), or nil for anything else.
const NUMBERS = `
local function num(v)
  local b, n = string.byte(v, 1), #v
  if n == 1 and b <= 0x7f then return b end
  if n == 1 and b >= 0xe0 then return b - 256 end
  if n == 9 and b == 0xcb then return (struct.unpack('>d', v, 2)) end
  if n == 5 and b == 0xca then return (struct.unpack('>f', v, 2)) end
  if n == 2 and b == 0xcc then return (struct.unpack('>B', v, 2)) end
  if n == 3 and b == 0xcd then return (struct.unpack('>H', v, 2)) end
  if n == 5 and b == 0xce then return (struct.unpack('>I4', v, 2)) end
  if n == 2 and b == 0xd0 then return (struct.unpack('>b', v, 2)) end
  if n == 3 and b == 0xd1 then return (struct.unpack('>h', v, 2)) end
  if n == 5 and b == 0xd2 then return (struct.unpack('>i4', v, 2)) end
  return nil
end
local function enc(x)
  if x == math.floor(x) and x >= -2147483648 and x <= 4294967295 then
    if x >= 0 then
      if x < 128 then return string.char(x) end
      if x < 256 then return struct.pack('>BB', 0xcc, x) end
      if x < 65536 then return struct.pack('>BH', 0xcd, x) end
      return struct.pack('>BI4', 0xce, x)
    end
    if x >= -32 then return string.char(x + 256) end
    if x >= -128 then return struct.pack('>Bb', 0xd0, x) end
    if x >= -32768 then return struct.pack('>Bh', 0xd1, x) end
    return struct.pack('>Bi4', 0xd2, x)
  end
  return struct.pack('>Bd', 0xcb, x)
end
`;

const DICT = "local e = need('CyberDict') if e then return e end\n";
const LIST = "local e = need('CyberList') if e then return e end\n";

const ALL_VALUES = `
local ks = redis.call('ZRANGE', KEYS[3], 0, -1)
local out = {}
local i = 1
while i <= #ks do
  local j = math.min(i + 999, #ks)
  local vs = redis.call('HMGET', KEYS[2], unpack(ks, i, j))
  for x = 1, #vs do
    if PAIRS then out[#out + 1] = ks[i + x - 1] end
    out[#out + 1] = vs[x]
  end
  i = j + 1
end
return out
`;

/** One script: how many of its arguments are keys, and its source. */
export interface ScriptSpec {
  /** Number of keys (the rest of the arguments are `ARGV`). */
  keys: number;
  /** The Lua source. */
  lua: string;
}

function dict(body: string, extra = ""): ScriptSpec {
  return { keys: 3, lua: PRELUDE + extra + DICT + body };
}

function list(body: string): ScriptSpec {
  return { keys: 2, lua: PRELUDE + LIST + body };
}

/** Every script, by the name ioredis defines it under (`cdb_` + op). */
export const SCRIPTS = {
  // CyberDict: KEYS meta, hash, order
  cdb_dget: dict("return redis.call('HGET', KEYS[2], ARGV[1])"),
  cdb_dset: dict(`
if redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[1])
end
pub('s' .. fld(ARGV[1]) .. ARGV[2])
return 1`),
  cdb_dhas: dict("return redis.call('HEXISTS', KEYS[2], ARGV[1])"),
  cdb_ddelete: dict(`
local n = redis.call('HDEL', KEYS[2], ARGV[1])
if n == 1 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  pub('d' .. ARGV[1])
end
return n`),
  cdb_dsize: dict("return redis.call('HLEN', KEYS[2])"),
  cdb_dkeys: dict("return redis.call('ZRANGE', KEYS[3], 0, -1)"),
  cdb_dvalues: dict(ALL_VALUES.replace("PAIRS", "false")),
  cdb_dentries: dict(ALL_VALUES.replace("PAIRS", "true")),
  cdb_dclear: dict("if redis.call('DEL', KEYS[2], KEYS[3]) > 0 then pub('c') end return 1"),
  cdb_dsetdefault: dict(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v then return {1, v} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[1])
pub('s' .. fld(ARGV[1]) .. ARGV[2])
return {0}`),
  cdb_dupdate: dict("putpairs(1, true) return 1"),
  cdb_dpop: dict(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
pub('d' .. ARGV[1])
return v`),
  cdb_dpopitem: dict(`
local last = redis.call('ZRANGE', KEYS[3], -1, -1)
if #last == 0 then return redis.error_reply('KEY_NOT_FOUND') end
local v = redis.call('HGET', KEYS[2], last[1])
redis.call('HDEL', KEYS[2], last[1])
redis.call('ZREM', KEYS[3], last[1])
pub('d' .. last[1])
return {last[1], v}`),
  // ARGV field, amount (a decimal number): {1, new bytes}, or {0, stored bytes} when the stored value is no
  // plain number (the caller then decides: an error, or a bigint sum through cdb_dcas).
  cdb_dincrement: dict(
    `
local v = redis.call('HGET', KEYS[2], ARGV[1])
local cur = 0
if v then
  cur = num(v)
  if cur == nil then return {0, v} end
end
local bytes = enc(cur + tonumber(ARGV[2]))
redis.call('HSET', KEYS[2], ARGV[1], bytes)
if not v then redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[1]) end
pub('s' .. fld(ARGV[1]) .. bytes)
return {1, bytes}`,
    NUMBERS,
  ),
  // ARGV field, expected bytes ('' for missing), new bytes: sets only when the stored value is as expected.
  cdb_dcas: dict(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if (v or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if not v then redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[1]) end
pub('s' .. fld(ARGV[1]) .. ARGV[3])
return 1`),

  // CyberList: KEYS meta, list
  cdb_lat: list("return redis.call('LINDEX', KEYS[2], ARGV[1])"),
  cdb_lset: list(`
local len = redis.call('LLEN', KEYS[2])
local at = bounded(tonumber(ARGV[1]), len)
if not at then return redis.error_reply('INDEX_OUT_OF_RANGE ' .. len) end
redis.call('LSET', KEYS[2], at, ARGV[2])
bump()
pub('S' .. struct.pack('>I4', at) .. ARGV[2])
return 1`),
  cdb_lpush: list(`
pushall('RPUSH', KEYS[2], ARGV, 1, #ARGV)
if #ARGV > 0 then
  bump()
  local m = {'p'}
  for i = 1, #ARGV do m[#m + 1] = fld(ARGV[i]) end
  pub(table.concat(m))
end
return redis.call('LLEN', KEYS[2])`),
  cdb_lpop: list(`
if #ARGV == 0 then
  local v = redis.call('RPOP', KEYS[2])
  if v then
    bump()
    pub('o')
  end
  return v
end
local len = redis.call('LLEN', KEYS[2])
local at = bounded(tonumber(ARGV[1]), len)
if not at then return redis.error_reply('INDEX_OUT_OF_RANGE ' .. len) end
bump()
if at == len - 1 then pub('o') else pub('r') end
return removeat(at, len)`),
  cdb_lshift: list(`
local v = redis.call('LPOP', KEYS[2])
if v then
  bump()
  pub('r')
end
return v`),
  cdb_lunshift: list(`
local i = #ARGV
while i >= 1 do
  local chunk = {}
  for j = i, math.max(1, i - 999), -1 do chunk[#chunk + 1] = ARGV[j] end
  redis.call('LPUSH', KEYS[2], unpack(chunk))
  i = i - 1000
end
if #ARGV > 0 then
  bump()
  pub('r')
end
return redis.call('LLEN', KEYS[2])`),
  cdb_linsert: list(`
local len = redis.call('LLEN', KEYS[2])
local at = tonumber(ARGV[1])
if at < 0 then at = math.max(0, len + at) else at = math.min(at, len) end
if at == 0 then redis.call('LPUSH', KEYS[2], ARGV[2])
elseif at == len then redis.call('RPUSH', KEYS[2], ARGV[2])
else
  local orig = redis.call('LINDEX', KEYS[2], at)
  redis.call('LSET', KEYS[2], at, TOMB)
  redis.call('LINSERT', KEYS[2], 'BEFORE', TOMB, ARGV[2])
  redis.call('LSET', KEYS[2], at + 1, orig)
end
bump()
pub('r')
return 1`),
  // {version, items}: one consistent read for the ops computed by the client.
  cdb_lsnapshot: list("return {redis.call('HGET', KEYS[1], 'ver') or '0', redis.call('LRANGE', KEYS[2], 0, -1)}"),
  // ARGV version, index: removes the item only if the list is still at that version.
  cdb_lremoveat: list(`
if (redis.call('HGET', KEYS[1], 'ver') or '0') ~= ARGV[1] then return 0 end
removeat(tonumber(ARGV[2]), redis.call('LLEN', KEYS[2]))
bump()
pub('r')
return 1`),
  // ARGV version, items...: replaces every item only if the list is still at that version.
  cdb_lreplace: list(`
if (redis.call('HGET', KEYS[1], 'ver') or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
pushall('RPUSH', KEYS[2], ARGV, 2, #ARGV)
bump()
if #ARGV > 2 then pub('r') end
return 1`),
  // ARGV start, end ('' when not given): Array.prototype.slice.
  cdb_lslice: list(`
local len = redis.call('LLEN', KEYS[2])
local function clamp(s, d)
  if s == '' then return d end
  local x = tonumber(s)
  if x < 0 then return math.max(0, len + x) end
  return math.min(x, len)
end
local from, to = clamp(ARGV[1], 0), clamp(ARGV[2], len)
if to <= from then return {} end
return redis.call('LRANGE', KEYS[2], from, to - 1)`),
  // ARGV start, deleteCount ('' when not given), items...: Array.prototype.splice.
  cdb_lsplice: list(`
local len = redis.call('LLEN', KEYS[2])
local s = tonumber(ARGV[1])
local from
if s < 0 then from = math.max(0, len + s) else from = math.min(s, len) end
local dc = len
if ARGV[2] ~= '' then dc = tonumber(ARGV[2]) end
dc = math.min(math.max(dc, 0), len - from)
local removed = {}
if dc > 0 then removed = redis.call('LRANGE', KEYS[2], from, from + dc - 1) end
if dc == 0 and #ARGV < 3 then return removed end
local tail = {}
if from + dc < len then tail = redis.call('LRANGE', KEYS[2], from + dc, -1) end
if from == 0 then redis.call('DEL', KEYS[2]) else redis.call('LTRIM', KEYS[2], 0, from - 1) end
pushall('RPUSH', KEYS[2], ARGV, 3, #ARGV)
pushall('RPUSH', KEYS[2], tail, 1, #tail)
bump()
pub('r')
return removed`),
  cdb_lreverse: list(`
local items = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
pushall('LPUSH', KEYS[2], items, 1, #items)
bump()
if #items > 1 then pub('r') end
return 1`),
  cdb_lclear: list("if redis.call('DEL', KEYS[2]) == 1 then pub('r') end bump() return 1"),
  cdb_llength: list("return redis.call('LLEN', KEYS[2])"),
  cdb_ltoarray: list("return redis.call('LRANGE', KEYS[2], 0, -1)"),

  // Tables: KEYS meta, hash, order, list; ARGV kind, then the initial entries (pairs) or items.
  cdb_create: {
    keys: 4,
    lua: PRELUDE + `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('TABLE_EXISTS') end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'kind', ARGV[1], 'seq', 0, 'ver', 0)
if ARGV[1] == 'CyberDict' then putpairs(2, false) else pushall('RPUSH', KEYS[4], ARGV, 2, #ARGV) end
pub('C' .. ARGV[1])
return 1`,
  },
  cdb_open: { keys: 1, lua: PRELUDE + "local e = need(ARGV[1]) if e then return e end return 1" },
  cdb_drop: {
    keys: 4,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NO_SUCH_TABLE') end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('PUBLISH', KEYS[1] .. ':w', 'D')
return 1`,
  },
  // KEYS registry tables, registry seq; ARGV name: lists the name last.
  cdb_register: {
    keys: 2,
    lua: "redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1]) return 1",
  },
} satisfies Record<string, ScriptSpec>;

/** The name of a script. */
export type ScriptName = keyof typeof SCRIPTS;
