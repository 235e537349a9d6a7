-- pseudo-labels-anneal.lua                                hook: pseudo_labels (train)
--
-- What: the paper's rule with an annealed normal threshold. With s the batch's
--   min-max normalised distance, y = 1 iff s > tau_n and a pseudo-anomaly is
--   ambiguous iff tau_n < s < tau_c. tau_n moves linearly from `start` at epoch 1
--   to `stop` at the last configured epoch:
--     tau_n = start + (stop - start) * (epoch - 1) / (epochs - 1)
--   The thresholds are returned in distance units:
--     anomalous_above = lo + tau_n * (hi - lo),  confident_above = lo + tau_c * (hi - lo)
--   Each call records tau_n in the run record (funad.log("tau_n", ...)).
-- Why: early in training the Local-Net is untrained, so the bank it selects and the
--   distances to it are least reliable; a higher tau_n labels only the clearest
--   outliers as anomalous then, and the rule relaxes to the paper's 0.5 by the end.
-- Parameters (the hook's `with:`):
--   start  number in [0, 1], default 0.7   tau_n at epoch 1
--   stop   number in [0, 1], default 0.5   tau_n at the last epoch (the paper's value)
--   tau_c  number in [0, 1], default 0.9   fixed; start and stop must be <= tau_c
-- Edge cases: with epochs = 1 the single epoch uses `stop`; epochs past the
-- configured count keep `stop`. All-equal distances give a = c = that distance, so
-- every patch is pseudo-normal (as the paper's rule and the official code).

function pseudo_labels(distances, ctx)
  local p = funad.params(ctx.params, {
    start = {default = 0.7, min = 0, max = 1},
    stop = {default = 0.5, min = 0, max = 1},
    tau_c = {default = 0.9, min = 0, max = 1},
  })
  local start, stop, tau_c = p.start, p.stop, p.tau_c
  if start > tau_c or stop > tau_c then
    error("start and stop must be <= tau_c, got start " .. tostring(start) .. ", stop " .. tostring(stop) .. ", tau_c " .. tostring(tau_c))
  end

  -- Progress through the schedule, 0 at epoch 1 and 1 at the last epoch.
  local progress = 1
  if ctx.epochs > 1 then
    progress = math.min(1, math.max(0, (ctx.epoch - 1) / (ctx.epochs - 1)))
  end
  local tau = start + (stop - start) * progress
  funad.log("tau_n", tau)

  if #distances == 0 then return {anomalous_above = 0, confident_above = 0} end
  local lo, hi = funad.min(distances), funad.max(distances)
  if hi <= lo then return {anomalous_above = hi, confident_above = hi} end
  return {anomalous_above = lo + tau * (hi - lo), confident_above = lo + tau_c * (hi - lo)}
end
