-- score-ensemble: one `scores` artifact from two or more, so that FUN-AD and PatchCore
-- (or any scorers of the same test set) can be combined.
--
-- Why: the two methods fail differently (PatchCore memorises the defects hidden in a
-- contaminated training set; FUN-AD's pseudo-labels may miss subtle ones), and their
-- raw scores live on unrelated scales (a learned distance vs a nearest-neighbour
-- distance), so they cannot be averaged as they are. Ranks can.
--
-- Inputs: every upstream stage in `needs` that produces `scores`, in `needs` order
-- (other inputs are ignored). All must score the same test images in the same order:
-- their `ids` must be identical, else the stage fails naming the first difference.
--
-- Output: scores.json with the same ids and the combined image scores, and no mapSize:
-- anomaly maps are not combined, so an `evaluate` stage downstream reports the image
-- metrics and shows the pixel metrics as n/a. No training_scores.json either (ranks of
-- the training images against each other are not comparable with the test ranks), so
-- evaluate sets no deployment threshold.
--
-- Parameters:
--   method   rank (default): each input's scores become ranks normalised to [0, 1]
--            ((rank − 1) / (n − 1), ties share their average rank), then the weighted
--            mean of those. Insensitive to each method's scale and outliers.
--            minmax: each input's scores rescaled to [0, 1] by (s − min) / (max − min),
--            then the weighted mean. Keeps how far apart the scores are.
--   weights  one non-negative weight per scores input, in needs order (default: equal).

stage = {
  type = "score-ensemble",
  version = 1,
  summary = "combines two or more scores artifacts of the same test set by rank or min-max averaging",
  consumes = {"scores"},
  produces = {"scores"},
  params = {
    method = {type = "choice", values = {"rank", "minmax"}, default = "rank",
              help = "rank: mean of normalised ranks (ties averaged); minmax: mean of min-max normalised scores"},
    weights = {type = "list", of = "number",
               help = "one non-negative weight per scores input in needs order (default: equal weights)"},
  },
}

-- Ranks of xs normalised to [0, 1]; equal values share the mean of their ranks.
local function normalised_ranks(xs)
  local n = #xs
  local order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(a, b) return xs[a] < xs[b] end)
  local ranks = {}
  local i = 1
  while i <= n do
    local j = i
    while j < n and xs[order[j + 1]] == xs[order[i]] do j = j + 1 end
    local shared = (i + j) / 2            -- mean of the 1-based ranks i..j
    for k = i, j do ranks[order[k]] = n > 1 and (shared - 1) / (n - 1) or 0.0 end
    i = j + 1
  end
  return ranks
end

-- xs rescaled to [0, 1]; all zeros when every score is equal.
local function minmax(xs)
  local lo, hi = funad.min(xs), funad.max(xs)
  local out = {}
  for i = 1, #xs do out[i] = hi > lo and (xs[i] - lo) / (hi - lo) or 0.0 end
  return out
end

local function same_ids(a, b, name_a, name_b)
  if #a ~= #b then
    error(string.format("%s scores %d images but %s scores %d: they must score the same test set", name_a, #a, name_b, #b), 0)
  end
  for i = 1, #a do
    if a[i] ~= b[i] then
      error(string.format("image %d is '%s' in %s but '%s' in %s: the scores must come from the same test set in the same order",
                          i, a[i], name_a, b[i], name_b), 0)
    end
  end
end

function run(ctx)
  local inputs = {}
  for i, input in ipairs(funad.inputs()) do
    for _, t in ipairs(input.produces) do
      if t == "scores" then inputs[#inputs + 1] = {index = i, stage = input.stage} end
    end
  end
  if #inputs < 2 then
    error(string.format("needs two or more stages producing scores, found %d", #inputs), 0)
  end

  local weights = ctx.params.weights
  if weights == nil or #weights == 0 then
    weights = {}
    for k = 1, #inputs do weights[k] = 1 end
  elseif #weights ~= #inputs then
    error(string.format("weights has %d entries for %d scores inputs", #weights, #inputs), 0)
  end
  local total = 0
  for k, w in ipairs(weights) do
    if w < 0 then error(string.format("weights[%d] is %g; weights must be non-negative", k, w), 0) end
    total = total + w
  end
  if total <= 0 then error("weights sum to 0; at least one must be positive", 0) end

  local normalise = ctx.params.method == "minmax" and minmax or normalised_ranks
  local ids, combined
  for k, input in ipairs(inputs) do
    local s = funad.read_json(input.index, "scores.json")
    if ids == nil then
      ids = s.ids
      combined = {}
      for i = 1, #ids do combined[i] = 0.0 end
    else
      same_ids(ids, s.ids, inputs[1].stage, input.stage)
    end
    if #s.scores ~= #ids then
      error(string.format("%s has %d scores for %d ids", input.stage, #s.scores, #ids), 0)
    end
    local normalised = normalise(s.scores)
    for i = 1, #ids do combined[i] = combined[i] + weights[k] / total * normalised[i] end
    funad.progress(k, #inputs)
  end

  funad.write_json("scores.json", {ids = ids, scores = combined})
  local names = {}
  for k, input in ipairs(inputs) do names[k] = input.stage end
  funad.record("ensemble", {method = ctx.params.method, inputs = names, weights = weights, images = #ids})
  print(string.format("combined %d scores artifacts (%s) over %d images by %s", #inputs, table.concat(names, ", "), #ids, ctx.params.method))
end
