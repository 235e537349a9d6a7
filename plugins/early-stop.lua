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

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

-- "0.312" rather than "0.31200000000000011"
local function fmt(x) return string.format("%.4g", x) end
local function epochs(k) return k == 1 and "epoch" or (k .. " epochs") end

function epoch_end(stats, ctx)
  local p = funad.params(ctx.params, {
    criterion = {default = "loss", values = {"loss", "bank"}},
    patience = {default = 3, type = "integer", min = 1},
    min_epochs = {default = 3, type = "integer", min = 1},
    min_delta = {default = 0.01, min = 0},
    min_jaccard = {default = 0.9, min = 0, max = 1},
  })
  local criterion, patience, min_epochs, min_delta, min_jaccard = p.criterion, p.patience, p.min_epochs, p.min_delta, p.min_jaccard

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
