-- threshold-mad.lua                                           hook: threshold (evaluate)
--
-- What: the image decision threshold is median + k * 1.4826 * MAD of the unlabelled
--   training images' scores, MAD = median(|s - median(s)|). 1.4826 * MAD estimates
--   the standard deviation of normally distributed scores, so k counts robust
--   standard deviations. With k = 3 (and the scale the built-in rule uses for the model) this is the
--   built-in rule; the plugin makes k
--   adjustable and serves as a template.
-- Why: the median and the MAD are hardly moved by the (unknown) defective images in
--   the training set while those are fewer than half, unlike the mean and the
--   standard deviation.
-- Parameters (the hook's `with:`):
--   k      number >= 0, default 3
--   scale  "raw" (default) or "logit": apply the rule to log(s / (1 - s)) and map the
--          threshold back. FUN-AD's scores are probabilities that crowd against 1; on
--          the raw scale median + 3 * MAD can land above 1 and flag nothing. The
--          built-in rule uses the logit scale for FUN-AD models.
-- Edge cases: if MAD = 0 (more than half the scores equal), the threshold is
--   median + eps with eps = max(1e-6 * |median|, 1e-12), as the built-in rule: the
--   tied majority (and rounding noise above it) is not flagged; anything clearly
--   above the median is.

function threshold(scores, ctx)
  local p = funad.params(ctx.params, {k = {default = 3, min = 0}, scale = {default = "raw", values = {"raw", "logit"}}})
  local k, scale = p.k, p.scale

  local n = #scores
  if n == 0 then error("no training scores to take a median of") end
  local values = {}
  for i = 1, n do
    local s = scores[i]
    if scale == "logit" then
      if not (s >= 0 and s <= 1) then error("scale logit needs scores in [0, 1], got " .. tostring(s)) end
      local q = math.min(math.max(s, 1e-7), 1 - 1e-7)
      s = math.log(q / (1 - q))
    end
    values[i] = s
  end
  local median = funad.quantile(values, 0.5)
  local deviations = {}
  for i = 1, n do deviations[i] = math.abs(values[i] - median) end
  local mad = funad.quantile(deviations, 0.5)

  local t
  if mad > 0 then t = median + k * 1.4826 * mad else t = median + math.max(1e-6 * math.abs(median), 1e-12) end
  if scale == "logit" then return 1 / (1 + math.exp(-t)) end
  return t
end
