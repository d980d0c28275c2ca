/**
 * The CyberDict ops as Lua functions `function(K, A)`: `K.b` is the dict's
 * hash, `K.o` its order set, `A` the op's arguments. Each returns its reply,
 * or `nil, "<CODE> <detail>"` for a failure, and changes nothing before it
 * knows it will not fail. The same functions run alone (one script per op,
 * `scripts.ts`) and inside an atomic batch (`lua_batch.ts`), where `keepf`
 * and `keepd` record what puts a key or the dict back as it was.
 *
 * The hot paths run the fewest Redis calls: a `set` of a key already there
 * is one `HSET` and one `PUBLISH`; only a new key also numbers it in the
 * order set (`numbered`). A dict is a hash holding the field `#`, so a
 * field written to a missing table is noticed (its `#` comes out as 1) and
 * taken back at once.
 *
 * @module
 */

/** Dict helpers: `dexists`, `numbered`, `keepf`, `keepd`. */
export const DICT_HELPERS = `
local function dexists(K) return redis.call('HEXISTS', K.b, '#') == 1 end
local function numbered(K, f)
  local seq = redis.call('HINCRBY', K.b, '#', 1)
  if seq == 1 then
    redis.call('DEL', K.b)
    return false
  end
  redis.call('ZADD', K.o, seq, f)
  return true
end
local function keepf(K, f)
  if UNDO then UNDO[#UNDO + 1] = {'f', K, f, redis.call('HGET', K.b, f), redis.call('ZSCORE', K.o, f)} end
end
local function keepd(K)
  if UNDO then
    UNDO[#UNDO + 1] = {'d', K, redis.call('HGETALL', K.b), redis.call('ZRANGE', K.o, 0, -1, 'WITHSCORES')}
  end
end
local function putpairs(K, A, from, publish)
  local n = (#A - from + 1) / 2
  if n < 1 then return end
  for x = from, #A, 2 do keepf(K, A[x]) end
  local seq = redis.call('HINCRBY', K.b, '#', n) - n
  local i = from
  while i <= #A do
    local j = math.min(i + 999, #A)
    local z = {}
    for x = i, j, 2 do
      z[#z + 1] = seq + (x - from) / 2 + 1
      z[#z + 1] = A[x]
    end
    redis.call('ZADD', K.o, 'NX', unpack(z))
    redis.call('HSET', K.b, unpack(A, i, j))
    if publish then for x = i, j, 2 do emit(K, 's' .. fld(A[x]) .. A[x + 1]) end end
    i = j + 1
  end
end
`;

// A MessagePack number as msgpackr writes it (ints up to 32 bits, float32/64), or nil for anything else.
/** `num(bytes)` and `enc(number)`: MessagePack numbers in Lua. */
export const NUMBERS = `
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

const ALL_VALUES = `function(K, A)
  if not dexists(K) then return nil, 'NO_SUCH_TABLE' end
  local ks = redis.call('ZRANGE', K.o, 0, -1)
  local out = {}
  local i = 1
  while i <= #ks do
    local j = math.min(i + 999, #ks)
    local vs = redis.call('HMGET', K.b, unpack(ks, i, j))
    for x = 1, #vs do
      if PAIRS then out[#out + 1] = ks[i + x - 1] end
      out[#out + 1] = vs[x]
    end
    i = j + 1
  end
  return out
end`;

/** The dict ops, by op name: Lua function expressions. */
export const DICT_OPS: Record<string, string> = {
  "d.set": `function(K, A)
  keepf(K, A[1])
  if redis.call('HSET', K.b, A[1], A[2]) == 1 and not numbered(K, A[1]) then return nil, 'NO_SUCH_TABLE' end
  emit(K, 's' .. fld(A[1]) .. A[2])
  return 1
end`,
  "d.delete": `function(K, A)
  keepf(K, A[1])
  if redis.call('HDEL', K.b, A[1]) == 0 then
    if not dexists(K) then return nil, 'NO_SUCH_TABLE' end
    return 0
  end
  redis.call('ZREM', K.o, A[1])
  emit(K, 'd' .. A[1])
  return 1
end`,
  "d.clear": `function(K, A)
  local s = redis.call('HGET', K.b, '#')
  if not s then return nil, 'NO_SUCH_TABLE' end
  if redis.call('HLEN', K.b) > 1 then
    keepd(K)
    redis.call('DEL', K.b, K.o)
    redis.call('HSET', K.b, '#', s)
    emit(K, 'c')
  end
  return 1
end`,
  "d.setDefault": `function(K, A)
  keepf(K, A[1])
  if redis.call('HSETNX', K.b, A[1], A[2]) == 0 then return {1, redis.call('HGET', K.b, A[1])} end
  if not numbered(K, A[1]) then return nil, 'NO_SUCH_TABLE' end
  emit(K, 's' .. fld(A[1]) .. A[2])
  return {0}
end`,
  "d.update": `function(K, A)
  if not dexists(K) then return nil, 'NO_SUCH_TABLE' end
  putpairs(K, A, 1, true)
  return 1
end`,
  // A[2] (in a batch): '0' when pop has no default, so a missing key fails the batch with KEY_NOT_FOUND.
  "d.pop": `function(K, A)
  local v = redis.call('HGET', K.b, A[1])
  if not v then
    if not dexists(K) then return nil, 'NO_SUCH_TABLE' end
    if A[2] == '0' then return nil, 'KEY_NOT_FOUND' end
    return false
  end
  keepf(K, A[1])
  redis.call('HDEL', K.b, A[1])
  redis.call('ZREM', K.o, A[1])
  emit(K, 'd' .. A[1])
  return v
end`,
  "d.popItem": `function(K, A)
  if not dexists(K) then return nil, 'NO_SUCH_TABLE' end
  local last = redis.call('ZRANGE', K.o, -1, -1)
  if #last == 0 then return nil, 'KEY_NOT_FOUND' end
  keepf(K, last[1])
  local v = redis.call('HGET', K.b, last[1])
  redis.call('HDEL', K.b, last[1])
  redis.call('ZREM', K.o, last[1])
  emit(K, 'd' .. last[1])
  return {last[1], v}
end`,
  // A field, amount (a decimal number): {1, new bytes}, or {0, stored bytes} when the stored value is no
  // plain number (the caller then decides: an error, or a bigint sum through d.cas).
  "d.increment": `function(K, A)
  local v = redis.call('HGET', K.b, A[1])
  local cur = 0
  if v then
    cur = num(v)
    if cur == nil then return {0, v} end
  elseif not dexists(K) then
    return nil, 'NO_SUCH_TABLE'
  end
  keepf(K, A[1])
  local bytes = enc(cur + tonumber(A[2]))
  if redis.call('HSET', K.b, A[1], bytes) == 1 then numbered(K, A[1]) end
  emit(K, 's' .. fld(A[1]) .. bytes)
  return {1, bytes}
end`,
  // A field, expected bytes ('' for missing), new bytes: sets only when the stored value is as expected.
  "d.cas": `function(K, A)
  local v = redis.call('HGET', K.b, A[1])
  if not v and not dexists(K) then return nil, 'NO_SUCH_TABLE' end
  if (v or '') ~= A[2] then return 0 end
  redis.call('HSET', K.b, A[1], A[3])
  if not v then numbered(K, A[1]) end
  emit(K, 's' .. fld(A[1]) .. A[3])
  return 1
end`,
  "d.keys": `function(K, A)
  if not dexists(K) then return nil, 'NO_SUCH_TABLE' end
  return redis.call('ZRANGE', K.o, 0, -1)
end`,
  "d.values": ALL_VALUES.replace("PAIRS", "false"),
  "d.entries": ALL_VALUES.replace("PAIRS", "true"),
};
