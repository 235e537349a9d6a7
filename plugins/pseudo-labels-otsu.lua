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

function pseudo_labels(distances, ctx)
  local p = funad.params(ctx.params, {
    bins = {default = 256, type = "integer", min = 2},
    band = {default = 0.8, min = 0, max = 1},
  })
  local bins, band = p.bins, p.band

  if #distances == 0 then return {anomalous_above = 0, confident_above = 0} end
  local lo, hi = funad.min(distances), funad.max(distances)
  if hi <= lo then return {anomalous_above = hi, confident_above = hi} end

  local a = funad.otsu(distances, math.tointeger(bins))
  return {anomalous_above = a, confident_above = a + band * (hi - a)}
end
