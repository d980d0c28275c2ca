/**
 * The CyberList ops as Lua functions `function(K, A)`: `K.b` is the list,
 * whose Redis index 0 holds the marker `MARK` (so an empty CyberList still
 * exists); item `i` sits at Redis index `i + 1`. Conventions as in
 * `lua_dict.ts`: a reply, or `nil, "<CODE> <detail>"` before any change;
 * `keepl` (the whole list), `UNDO` entries `n` (a length), `p` (a popped
 * last item), `s` (an overwritten item), `h` (a shifted first item) and `k`
 * (items unshifted) put a list back inside an atomic batch.
 *
 * `remove` and `sort` are computed by the client (deep equality, our
 * ordering): `l.snapshot` hands it the items with the SHA-1 of their bytes,
 * and `l.removeAt` / `l.replace` apply its result only if the list still
 * hashes the same — so no write needs to keep a version.
 *
 * @module
 */

/** List helpers: `llen`, `bounded`, `removeat`, `keepl`, `pushall`. */
export const LIST_HELPERS = `
local MARK = '\\193L'
local TOMB = '\\193'
local function llen(K)
  local n = redis.call('LLEN', K.b)
  if n == 0 then return nil end
  return n - 1
end
local function bounded(i, len)
  local at = i
  if at < 0 then at = len + at end
  if at < 0 or at >= len then return nil end
  return at
end
local function removeat(K, at, len)
  if at == len - 1 then return redis.call('RPOP', K.b) end
  local r = at + 1
  local v = redis.call('LINDEX', K.b, r)
  redis.call('LSET', K.b, r, TOMB)
  redis.call('LREM', K.b, (r <= len / 2) and 1 or -1, TOMB)
  return v
end
local function keepl(K)
  if UNDO then UNDO[#UNDO + 1] = {'l', K, redis.call('LRANGE', K.b, 0, -1)} end
end
local function pushall(cmd, key, items, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 999, to)
    redis.call(cmd, key, unpack(items, i, j))
    i = j + 1
  end
end
local function digest(items) return redis.sha1hex(table.concat(items)) end
`;

/** The list ops, by op name: Lua function expressions. */
export const LIST_OPS: Record<string, string> = {
  "l.at": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  local at = bounded(tonumber(A[1]), len)
  if not at then return false end
  return redis.call('LINDEX', K.b, at + 1)
end`,
  "l.set": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  local at = bounded(tonumber(A[1]), len)
  if not at then return nil, 'INDEX_OUT_OF_RANGE ' .. len end
  if UNDO then UNDO[#UNDO + 1] = {'s', K, at + 1, redis.call('LINDEX', K.b, at + 1)} end
  redis.call('LSET', K.b, at + 1, A[2])
  emit(K, 'S' .. struct.pack('>I4', at) .. A[2])
  return 1
end`,
  "l.push": `function(K, A)
  if #A == 0 then
    local len = llen(K)
    if not len then return nil, 'NO_SUCH_TABLE' end
    return len
  end
  local before = UNDO and redis.call('LLEN', K.b)
  local n = redis.call('RPUSHX', K.b, unpack(A, 1, math.min(1000, #A)))
  if n == 0 then return nil, 'NO_SUCH_TABLE' end
  if UNDO then UNDO[#UNDO + 1] = {'n', K, before} end
  if #A > 1000 then
    pushall('RPUSH', K.b, A, 1001, #A)
    n = n + #A - 1000
  end
  local m = {'p'}
  for i = 1, #A do m[#m + 1] = fld(A[i]) end
  emit(K, table.concat(m))
  return n - 1
end`,
  "l.pop": `function(K, A)
  if #A == 0 then
    local v = redis.call('RPOP', K.b)
    if not v then return nil, 'NO_SUCH_TABLE' end
    if v == MARK then
      redis.call('RPUSH', K.b, MARK)
      return false
    end
    if UNDO then UNDO[#UNDO + 1] = {'p', K, v} end
    emit(K, 'o')
    return v
  end
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  local at = bounded(tonumber(A[1]), len)
  if not at then return nil, 'INDEX_OUT_OF_RANGE ' .. len end
  if at == len - 1 then
    local v = redis.call('RPOP', K.b)
    if UNDO then UNDO[#UNDO + 1] = {'p', K, v} end
    emit(K, 'o')
    return v
  end
  keepl(K)
  emit(K, 'r')
  return removeat(K, at, len)
end`,
  "l.shift": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  if len == 0 then return false end
  local v = removeat(K, 0, len)
  if UNDO then UNDO[#UNDO + 1] = {'h', K, v} end
  emit(K, 'r')
  return v
end`,
  "l.unshift": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  if #A == 0 then return len end
  if UNDO then UNDO[#UNDO + 1] = {'k', K, #A} end
  redis.call('LPOP', K.b)
  local i = #A
  while i >= 1 do
    local chunk = {}
    for j = i, math.max(1, i - 999), -1 do chunk[#chunk + 1] = A[j] end
    redis.call('LPUSH', K.b, unpack(chunk))
    i = i - 1000
  end
  redis.call('LPUSH', K.b, MARK)
  emit(K, 'r')
  return len + #A
end`,
  "l.insert": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  local at = tonumber(A[1])
  if at < 0 then at = math.max(0, len + at) else at = math.min(at, len) end
  if at == len then
    if UNDO then UNDO[#UNDO + 1] = {'n', K, len + 1} end
    redis.call('RPUSH', K.b, A[2])
  else
    keepl(K)
    local r = at + 1
    local orig = redis.call('LINDEX', K.b, r)
    redis.call('LSET', K.b, r, TOMB)
    redis.call('LINSERT', K.b, 'BEFORE', TOMB, A[2])
    redis.call('LSET', K.b, r + 1, orig)
  end
  emit(K, 'r')
  return 1
end`,
  "l.slice": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  local function clamp(s, d)
    if s == '' then return d end
    local x = tonumber(s)
    if x < 0 then return math.max(0, len + x) end
    return math.min(x, len)
  end
  local from, to = clamp(A[1], 0), clamp(A[2], len)
  if to <= from then return {} end
  return redis.call('LRANGE', K.b, from + 1, to)
end`,
  "l.splice": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  local s = tonumber(A[1])
  local from
  if s < 0 then from = math.max(0, len + s) else from = math.min(s, len) end
  local dc = len
  if A[2] ~= '' then dc = tonumber(A[2]) end
  dc = math.min(math.max(dc, 0), len - from)
  local removed = {}
  if dc > 0 then removed = redis.call('LRANGE', K.b, from + 1, from + dc) end
  if dc == 0 and #A < 3 then return removed end
  keepl(K)
  local tail = {}
  if from + dc < len then tail = redis.call('LRANGE', K.b, from + dc + 1, -1) end
  redis.call('LTRIM', K.b, 0, from)
  pushall('RPUSH', K.b, A, 3, #A)
  pushall('RPUSH', K.b, tail, 1, #tail)
  emit(K, 'r')
  return removed
end`,
  "l.reverse": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  if len < 2 then return 1 end
  keepl(K)
  local items = redis.call('LRANGE', K.b, 1, -1)
  redis.call('LTRIM', K.b, 0, 0)
  local i = #items
  while i >= 1 do
    local chunk = {}
    for j = i, math.max(1, i - 999), -1 do chunk[#chunk + 1] = items[j] end
    redis.call('RPUSH', K.b, unpack(chunk))
    i = i - 1000
  end
  emit(K, 'r')
  return 1
end`,
  "l.clear": `function(K, A)
  local len = llen(K)
  if not len then return nil, 'NO_SUCH_TABLE' end
  if len > 0 then
    keepl(K)
    redis.call('LTRIM', K.b, 0, 0)
    emit(K, 'r')
  end
  return 1
end`,
  // {sha1 of the items' bytes, items (the marker first)}: one consistent read for the ops computed by the client.
  "l.snapshot": `function(K, A)
  local items = redis.call('LRANGE', K.b, 0, -1)
  if #items == 0 then return nil, 'NO_SUCH_TABLE' end
  return {digest(items), items}
end`,
  // A digest, index: removes the item only if the list still hashes to that digest.
  "l.removeAt": `function(K, A)
  local items = redis.call('LRANGE', K.b, 0, -1)
  if #items == 0 then return nil, 'NO_SUCH_TABLE' end
  if digest(items) ~= A[1] then return 0 end
  removeat(K, tonumber(A[2]), #items - 1)
  emit(K, 'r')
  return 1
end`,
  // A digest, items...: replaces every item only if the list still hashes to that digest.
  "l.replace": `function(K, A)
  local items = redis.call('LRANGE', K.b, 0, -1)
  if #items == 0 then return nil, 'NO_SUCH_TABLE' end
  if digest(items) ~= A[1] then return 0 end
  redis.call('LTRIM', K.b, 0, 0)
  pushall('RPUSH', K.b, A, 2, #A)
  if #A > 2 then emit(K, 'r') end
  return 1
end`,
};
