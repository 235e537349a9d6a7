-- threshold-mad.lua                                           hook: threshold (evaluate)
--
-- What: the image decision threshold is median + k * 1.4826 * MAD of the unlabelled
--   training images' scores, MAD = median(|s - median(s)|). 1.4826 * MAD estimates
--   the standard deviation of normally distributed scores, so k counts robust
--   standard deviations. With k = 3 this is the built-in rule; the plugin makes k
--   adjustable and serves as a template.
-- Why: the median and the MAD are hardly moved by the (unknown) defective images in
--   the training set while those are fewer than half, unlike the mean and the
--   standard deviation.
-- Parameters (the hook's `with:`):
--   k  number >= 0, default 3
-- Edge cases: if MAD = 0 (more than half the scores equal), the threshold is
--   median + eps with eps = max(1e-6 * |median|, 1e-12), as the built-in rule: the
--   tied majority (and rounding noise above it) is not flagged; anything clearly
--   above the median is. With k = 3 the result equals the built-in threshold.

local FILE = "plugins/threshold-mad.lua"

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
  check_keys(p, {k = true})
  local k = number(p, "k", 3)
  if k < 0 then fail("k must be >= 0, got " .. tostring(p.k)) end

  local n = #scores
  if n == 0 then fail("no training scores to take a median of") end
  local median = funad.quantile(scores, 0.5)
  local deviations = {}
  for i = 1, n do deviations[i] = math.abs(scores[i] - median) end
  local mad = funad.quantile(deviations, 0.5)

  if mad > 0 then return median + k * 1.4826 * mad end
  return median + math.max(1e-6 * math.abs(median), 1e-12)
end
