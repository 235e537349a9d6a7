-- pseudo-labels-percentile.lua                            hook: pseudo_labels (train)
--
-- What: labels a fixed share of each batch's patches by rank of their nearest-bank
--   distance d:
--   anomalous_above  a = funad.quantile(d, anomalous)
--   confident_above  c = funad.quantile(d, confident)
--   A patch is a pseudo-anomaly iff d > a; a pseudo-anomaly is ambiguous (and so
--   perturbed) iff a < d < c. Quantiles interpolate linearly (numpy's default).
-- Why: the paper's cut (0.5 of the batch's min-max range) lets the share of
--   pseudo-anomalies swing from 0 to most of the batch with a single extreme patch.
--   A quantile fixes that share at about (1 - anomalous), which suits a known
--   contamination level.
-- Parameters (the hook's `with:`):
--   anomalous  number in [0, 1], default 0.9    quantile of d above which y = 1
--   confident  number in [0, 1], default 0.98   quantile of d from which a
--              pseudo-anomaly is confident (not perturbed); anomalous <= confident
-- Edge cases: tied distances at the cut are all on the same side, so the share can
-- be below (1 - anomalous); all-equal distances give a = c, so every patch is
-- pseudo-normal.

local FILE = "plugins/pseudo-labels-percentile.lua"

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

function pseudo_labels(distances, ctx)
  local p = ctx.params or {}
  check_keys(p, {anomalous = true, confident = true})
  local anomalous = number(p, "anomalous", 0.9)
  local confident = number(p, "confident", 0.98)
  if anomalous < 0 or anomalous > 1 then fail("anomalous must be in [0, 1], got " .. tostring(p.anomalous)) end
  if confident < 0 or confident > 1 then fail("confident must be in [0, 1], got " .. tostring(p.confident)) end
  if anomalous > confident then
    fail("anomalous must be <= confident, got anomalous " .. tostring(anomalous) .. " and confident " .. tostring(confident))
  end

  if #distances == 0 then return {anomalous_above = 0, confident_above = 0} end
  return {
    anomalous_above = funad.quantile(distances, anomalous),
    confident_above = funad.quantile(distances, confident),
  }
end
