/**
 * The atomic batch as one Lua script: every check, then every op, on tables
 * that all hash to one slot (the caller makes sure), all or nothing.
 *
 * `KEYS`: each table's base and order keys, in pairs (table `t` is
 * `KEYS[2t-1]`, `KEYS[2t]`). `ARGV`: the number of checks, the number of
 * ops; then each check as table, field (`''` when the key is no dict key),
 * index (`''` when it is no list index), expected bytes (`''`: must be
 * missing); then each op as name, table, argument count, arguments — the
 * arguments its script takes alone. An op whose arguments the client
 * refused is sent as `!` + its op name, last: it fails with `CLIENT` once
 * the ops before it ran and its table was found, so the error reported is
 * the one the memory engine would report first.
 *
 * The checks compare bytes: equal bytes are equal values. Different bytes
 * may still be deep-equal (`{a, b}` and `{b, a}`), so a check whose bytes
 * differ answers `{'x', check, stored}` and the client decides (and retries
 * with the stored bytes when they are deep-equal). The ops are the very
 * functions the single-op scripts run; each records in `UNDO` what puts
 * its keys back, and the first that fails has the log played backwards, so
 * nothing is applied. The changes are published only once all succeeded:
 * `B` on the table's channel when the batch touched one table, else `b` on
 * each table's and `M` (all of them, with their base keys) on the first's.
 *
 * Replies: `{'ok', results}`, `{'c', check}` (a check failed), `{'x', check,
 * stored}`, `{'t', check, error}` (a check's table is missing, or the key
 * fits no table of its kind), `{'e', op, error, stored}` (an op failed;
 * `stored` is the value `increment` found when it is no number).
 *
 * @module
 */

/** The ops a Redis batch runs: every write op but those computed by the client. */
export const BATCH_OPS: readonly string[] = [
  "d.set",
  "d.delete",
  "d.clear",
  "d.setDefault",
  "d.update",
  "d.pop",
  "d.popItem",
  "d.increment",
  "l.set",
  "l.push",
  "l.pop",
  "l.shift",
  "l.unshift",
  "l.insert",
  "l.splice",
  "l.reverse",
  "l.clear",
];

const DRIVER = `
local function undo(u)
  local w, K = u[1], u[2]
  if w == 'f' then
    if u[4] then redis.call('HSET', K.b, u[3], u[4]) else redis.call('HDEL', K.b, u[3]) end
    if u[5] then redis.call('ZADD', K.o, u[5], u[3]) else redis.call('ZREM', K.o, u[3]) end
  elseif w == 'd' then
    redis.call('DEL', K.b, K.o)
    pushall('HSET', K.b, u[3], 1, #u[3])
    local z, s = u[4], {}
    for x = 1, #z, 2 do
      s[#s + 1] = z[x + 1]
      s[#s + 1] = z[x]
    end
    pushall('ZADD', K.o, s, 1, #s)
  elseif w == 'l' then
    redis.call('DEL', K.b)
    pushall('RPUSH', K.b, u[3], 1, #u[3])
  elseif w == 'n' then
    redis.call('LTRIM', K.b, 0, u[3] - 1)
  elseif w == 'p' then
    redis.call('RPUSH', K.b, u[3])
  elseif w == 's' then
    redis.call('LSET', K.b, u[3], u[4])
  elseif w == 'h' then
    redis.call('LPOP', K.b)
    redis.call('LPUSH', K.b, u[3], MARK)
  elseif w == 'k' then
    redis.call('LPOP', K.b, u[3] + 1)
    redis.call('LPUSH', K.b, MARK)
  end
end
local T = {}
for i = 1, #KEYS, 2 do T[#T + 1] = {b = KEYS[i], o = KEYS[i + 1]} end
local kinds = {}
local function kind(t)
  local k = kinds[t]
  if k == nil then
    local ty = redis.call('TYPE', T[t].b).ok
    k = (ty == 'hash' and 'CyberDict') or (ty == 'list' and 'CyberList') or false
    kinds[t] = k
  end
  return k
end
local C, N = tonumber(ARGV[1]), tonumber(ARGV[2])
local p = 3
for c = 1, C do
  local t, f, i, want = tonumber(ARGV[p]), ARGV[p + 1], ARGV[p + 2], ARGV[p + 3]
  p = p + 4
  local k = kind(t)
  if not k then return {'t', c - 1, 'NO_SUCH_TABLE'} end
  local v = false
  if k == 'CyberDict' then
    if f == '' then return {'t', c - 1, 'BAD_REQUEST CyberDict'} end
    v = redis.call('HGET', T[t].b, f)
  else
    if i == '' then return {'t', c - 1, 'BAD_REQUEST CyberList'} end
    local at = bounded(tonumber(i), redis.call('LLEN', T[t].b) - 1)
    if at then v = redis.call('LINDEX', T[t].b, at + 1) end
  end
  if want == '' then
    if v then return {'c', c - 1} end
  elseif v ~= want then
    if not v then return {'c', c - 1} end
    return {'x', c - 1, v}
  end
end
local results = {}
for n = 1, N do
  local name, t, argc = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local A = {}
  for j = 1, argc do A[j] = ARGV[p + 2 + j] end
  p = p + 3 + argc
  local k = kind(t)
  local want = (string.find(name, '^!?d') and 'CyberDict') or 'CyberList'
  local r, e, extra
  if not k then
    e = 'NO_SUCH_TABLE'
  elseif k ~= want then
    e = 'WRONG_TYPE ' .. k
  elseif string.sub(name, 1, 1) == '!' then
    e = 'CLIENT'
  else
    r, e = F[name](T[t], A)
    if not e and name == 'd.increment' and r[1] == 0 then e, extra = 'WRONG_TYPE', r[2] end
  end
  if e then
    for j = #UNDO, 1, -1 do undo(UNDO[j]) end
    return {'e', n - 1, e, extra or ''}
  end
  results[n] = r
end
local order, parts = {}, {}
for _, c in ipairs(BATCH) do
  local q = parts[c[1]]
  if not q then
    q = {}
    parts[c[1]] = q
    order[#order + 1] = c[1]
  end
  q[#q + 1] = fld(c[2])
end
if #order == 1 then
  redis.call('PUBLISH', order[1] .. ':w', 'B' .. table.concat(parts[order[1]]))
elseif #order > 1 then
  local all = {'M'}
  for _, c in ipairs(BATCH) do all[#all + 1] = fld(c[1]) .. fld(c[2]) end
  for _, b in ipairs(order) do redis.call('PUBLISH', b .. ':w', 'b' .. table.concat(parts[b])) end
  redis.call('PUBLISH', order[1] .. ':w', table.concat(all))
end
return {'ok', results}
`;

/**
 * The batch script's source.
 *
 * @param ops every op function, by op name
 * @param helpersFor the helper definitions a piece of Lua needs
 * @returns the Lua source
 */
export function batchScript(ops: Record<string, string>, helpersFor: (body: string) => string): string {
  const table = ["local F = {}", ...BATCH_OPS.map((name) => `F['${name}'] = ${ops[name]}`)].join("\n");
  const body = `${table}\n${DRIVER}`;
  return `local BATCH, UNDO = {}, {}\n${helpersFor(body)}\n${body}`;
}
