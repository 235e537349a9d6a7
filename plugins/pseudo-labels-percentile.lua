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

function pseudo_labels(distances, ctx)
  local p = funad.params(ctx.params, {
    anomalous = {default = 0.9, min = 0, max = 1},
    confident = {default = 0.98, min = 0, max = 1},
  })
  local anomalous, confident = p.anomalous, p.confident
  if anomalous > confident then
    error("anomalous must be <= confident, got anomalous " .. tostring(anomalous) .. " and confident " .. tostring(confident))
  end

  if #distances == 0 then return {anomalous_above = 0, confident_above = 0} end
  return {
    anomalous_above = funad.quantile(distances, anomalous),
    confident_above = funad.quantile(distances, confident),
  }
end
