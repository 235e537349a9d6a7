-- early-stop.lua                                             hook: epoch_end (train)
--
-- What: stops training once a label-free signal has settled. Two criteria:
--   criterion: loss  the best training loss of the last `patience` epochs improved on
--                    the best loss of all epochs before them by less than `min_delta`
--                    (relative: (before - recent) / before)
--   criterion: bank  the memory bank's image set barely changes: bank_jaccard (overlap
--                    with the previous epoch's bank) >= `min_jaccard` in each of the
--                    last `patience` epochs
--   Never stops before `min_epochs` epochs have finished, except that it stops at
--   once, whatever the criterion, if the latest loss is not a finite number (NaN or
--   infinite: training has diverged). Returns the reason as text for the run record.
-- Why: the paper trains for a fixed 1500 epochs and the public code picks the best
--   epoch with test labels; this project never looks at test labels, so a stopping
--   rule may only use training statistics. It reads only ctx.history (no globals),
--   so it behaves the same after a resume from a checkpoint.
-- Parameters (the hook's `with:`):
--   criterion    "loss" (default) or "bank"
--   patience     integer >= 1, default 3
--   min_delta    number >= 0, default 0.01   (loss) relative improvement, 0.01 = 1 %
--   min_jaccard  number in [0, 1], default 0.9  (bank)
--   min_epochs   integer >= 1, default 3
-- The loss criterion needs patience + 1 finished epochs (something to compare with).

local FILE = "plugins/early-stop.lua"

-- Parameter helpers. Values set with --set or ${VAR} may arrive as text.
local function fail(msg) error(FILE .. ": " .. msg, 0) end

local function check_keys(p, known)
  local bad = {}
  for k in pairs(p) do if known[k] == nil then bad[#bad + 1] = tostring(k) end end
  if #bad > 0 then
    local names = {}
    for k in pairs(known) do names[#names + 1] = k end
    table.sort(bad); table.sort(names)
    fail("unknown parameter " .. table.concat(bad, ", ") .. " (known: " .. table.concat(names, ", ") .. ")")
  end
end

local function number(p, key, default)
  local v = p[key]
  if v == nil then return default end
  local x = tonumber(v)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then
    fail(key .. " must be a finite number, got " .. tostring(v))
  end
  return x
end

local function integer(p, key, default)
  local x = number(p, key, default)
  if math.tointeger(x) == nil or x < 1 then fail(key .. " must be an integer >= 1, got " .. tostring(p[key])) end
  return math.tointeger(x)
end

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

-- "0.312" rather than "0.31200000000000011"
local function fmt(x) return string.format("%.4g", x) end
local function epochs(k) return k == 1 and "epoch" or (k .. " epochs") end

function epoch_end(stats, ctx)
  local p = ctx.params or {}
  check_keys(p, {criterion = true, patience = true, min_delta = true, min_jaccard = true, min_epochs = true})
  local criterion = p.criterion == nil and "loss" or p.criterion
  if criterion ~= "loss" and criterion ~= "bank" then
    fail('criterion must be "loss" or "bank", got ' .. tostring(p.criterion))
  end
  local patience = integer(p, "patience", 3)
  local min_epochs = integer(p, "min_epochs", 3)
  local min_delta = number(p, "min_delta", 0.01)
  if min_delta < 0 then fail("min_delta must be >= 0, got " .. tostring(p.min_delta)) end
  local min_jaccard = number(p, "min_jaccard", 0.9)
  if min_jaccard < 0 or min_jaccard > 1 then fail("min_jaccard must be in [0, 1], got " .. tostring(p.min_jaccard)) end

  local h = ctx.history or {stats}
  local n = #h
  if n == 0 then return false end
  local last = h[n].loss
  if not finite(last) then
    local what = type(last) ~= "number" and tostring(last) or (last ~= last and "NaN") or (last > 0 and "+inf" or "-inf")
    return "loss is not finite (" .. what .. ") at epoch " .. n
  end
  if n < min_epochs then return false end

  if criterion == "bank" then
    if n < patience then return false end
    local seen = {}
    for e = n - patience + 1, n do
      local j = h[e].bank_jaccard
      if not finite(j) or j < min_jaccard then return false end
      seen[#seen + 1] = string.format("%.3g", j)
    end
    return "bank stable: Jaccard >= " .. fmt(min_jaccard) .. " for the last " .. epochs(patience)
      .. " (" .. table.concat(seen, ", ") .. ")"
  end

  -- criterion == "loss"
  if n < patience + 1 then return false end
  local function best(from, to)
    local b = math.huge
    for e = from, to do
      local l = h[e].loss
      if finite(l) and l < b then b = l end
    end
    return b
  end
  local before, recent = best(1, n - patience), best(n - patience + 1, n)
  if before == math.huge then return false end -- nothing finite to compare with
  local gain = (before - recent) / math.max(math.abs(before), 1e-12)
  if gain >= min_delta then return false end
  return string.format("loss plateau: best %s over the last %s vs %s before (%.3g %% < %.3g %%)",
    fmt(recent), epochs(patience), fmt(before), gain * 100, min_delta * 100)
end
