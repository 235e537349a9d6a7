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

function threshold(scores, ctx)
  local rate = funad.params(ctx.params, {rate = {default = 0.1, min = 0, max = 1}}).rate
  if #scores == 0 then error("no training scores to take a quantile of") end
  return funad.quantile(scores, 1 - rate)
end
