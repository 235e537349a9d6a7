-- bank-lowest.lua                                                  hook: bank (train)
--
-- What: the memory-bank candidates are the ceil(keep * N) training images with the
--   lowest scores (N = number of training images), never fewer than `min_images`
--   (capped at N). Ties are broken by the lower image index, so the result does not
--   depend on sort internals. Returns the 1-based indices in ascending order; the
--   host then draws its random fraction (bank.fraction) of them.
-- Why: the paper keeps images whose min-max normalised score is < 0.5. When one image
--   scores far below the rest, every other image normalises above 0.5 and the bank
--   collapses to that one image. A rank rule always keeps the same share.
-- Parameters (the hook's `with:`):
--   keep        number in (0, 1], default 0.5   share of the images that are candidates
--   min_images  integer >= 1, default 1         minimum number of candidates
-- Edge cases: keep * N is rounded up with a 1e-9 tolerance, so keep 0.15 of 100
-- images gives 15 (not 16 from 0.15 * 100 = 15.000000000000002). A NaN score ranks
-- as the highest score.

function bank(scores, ctx)
  local p = funad.params(ctx.params, {
    keep = {default = 0.5, above = 0, max = 1},
    min_images = {default = 1, type = "integer", min = 1},
  })
  local keep, min_images = p.keep, p.min_images

  local n = #scores
  if n == 0 then return {} end
  local count = math.ceil(keep * n - 1e-9)
  count = math.min(n, math.max(count, math.tointeger(min_images)))

  -- Copy the scores once (NaN ranks last), then rank by (score, index).
  local s, order = {}, {}
  for i = 1, n do
    local v = scores[i]
    if v ~= v then v = math.huge end
    s[i], order[i] = v, i
  end
  table.sort(order, function(i, j)
    if s[i] ~= s[j] then return s[i] < s[j] end
    return i < j
  end)

  local chosen = {}
  for r = 1, count do chosen[r] = order[r] end
  table.sort(chosen)
  return chosen
end
