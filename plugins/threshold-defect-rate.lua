-- threshold-defect-rate.lua                                   hook: threshold (evaluate)
--
-- What: the image decision threshold is the (1 - rate) quantile (linear
--   interpolation, numpy's default) of the unlabelled training images' scores, so
--   that about a share `rate` of them scores above it and would be flagged.
-- Why: on a production line the expected defect rate is often known; the built-in
--   rule (median + 3 * 1.4826 * MAD) knows nothing about it.
-- Parameters (the hook's `with:`):
--   rate  number in [0, 1], default 0.1   expected share of defective parts
-- Edge cases: tied scores at the cut fall on the same side, so fewer than rate * N
-- training images may be above it; rate 0 gives the highest training score (no
-- training image flagged); all-equal scores give that score (none flagged).

local FILE = "plugins/threshold-defect-rate.lua"

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

function threshold(scores, ctx)
  local p = ctx.params or {}
  check_keys(p, {rate = true})
  local rate = number(p, "rate", 0.1)
  if rate < 0 or rate > 1 then fail("rate must be in [0, 1], got " .. tostring(p.rate)) end
  if #scores == 0 then fail("no training scores to take a quantile of") end
  return funad.quantile(scores, 1 - rate)
end
