-- bank-mad.lua                                                     hook: bank (train)
--
-- What: returns the score threshold t = median + k * 1.4826 * MAD, where
--   MAD = median(|s - median(s)|) over the training images' scores s; images with
--   score <= t are the memory-bank candidates (the host then draws its random
--   fraction, bank.fraction, of them). With the default k = 0, t is the median:
--   about the lower half of the images are candidates.
-- Why: the paper's rule (min-max normalise the scores, keep those < 0.5) collapses
--   the bank to a single image when one image scores far below the rest: that image
--   becomes 0, every other one lands near 1. The median and the MAD hardly move
--   when one score is extreme (they shift by at most one rank), so the bank keeps
--   its size.
-- Parameters (the hook's `with:`):
--   k  number, default 0   how many robust standard deviations (1.4826 * MAD) above
--      the median the cut lies; negative values give a smaller bank
-- Edge cases: if MAD = 0 (more than half the scores equal), t = median. t is never
-- below the lowest score, so at least one image is always a candidate; all-equal
-- scores make every image a candidate.

function bank(scores, ctx)
  local k = funad.params(ctx.params, {k = {default = 0}}).k

  local n = #scores
  if n == 0 then return {} end
  local median = funad.quantile(scores, 0.5)
  local deviations = {}
  for i = 1, n do deviations[i] = math.abs(scores[i] - median) end
  local mad = funad.quantile(deviations, 0.5)

  local t = median
  if mad > 0 then t = median + k * 1.4826 * mad end
  return math.max(t, funad.min(scores))
end
