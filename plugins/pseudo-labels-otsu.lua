-- pseudo-labels-otsu.lua                                  hook: pseudo_labels (train)
--
-- What: splits each batch's nearest-bank distances d with Otsu's threshold.
--   anomalous_above  a = funad.otsu(d, bins)        (a histogram bin centre)
--   confident_above  c = a + band * (max(d) - a)
--   A patch is a pseudo-anomaly iff d > a; a pseudo-anomaly is ambiguous (and so
--   perturbed) iff a < d < c.
-- Why: the paper labels d > min + 0.5 * (max - min). One extreme patch stretches
--   that range and lifts the cut above most real anomalies. Otsu's cut follows the
--   shape of the batch's distance histogram, not its two extreme values.
-- Parameters (the hook's `with:`):
--   bins  integer >= 2, default 256   histogram bins for Otsu's method
--   band  number in [0, 1], default 0.8
--         share of the range above a that is ambiguous (0: no patch is ambiguous;
--         1: every pseudo-anomaly except those at the maximum distance)
-- Edge cases: all-equal distances give a = c = that distance, so every patch is
-- pseudo-normal (the paper's rule does the same). Otherwise a lies strictly between
-- min(d) and max(d), so each batch has at least one pseudo-normal and one
-- pseudo-anomalous patch.

local FILE = "plugins/pseudo-labels-otsu.lua"

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
  check_keys(p, {bins = true, band = true})
  local bins = number(p, "bins", 256)
  if math.tointeger(bins) == nil or bins < 2 then fail("bins must be an integer >= 2, got " .. tostring(p.bins)) end
  local band = number(p, "band", 0.8)
  if band < 0 or band > 1 then fail("band must be in [0, 1], got " .. tostring(p.band)) end

  if #distances == 0 then return {anomalous_above = 0, confident_above = 0} end
  local lo, hi = funad.min(distances), funad.max(distances)
  if hi <= lo then return {anomalous_above = hi, confident_above = hi} end

  local a = funad.otsu(distances, math.tointeger(bins))
  return {anomalous_above = a, confident_above = a + band * (hi - a)}
end
