# flexmix's standard errors (summary(refit(m))) on tonedata, for the
# comparison with skmoe's summary() in tests/test_summary.py.
#
# For both tonedata settings of flexmix_reference.R (two components,
# tuned ~ stretchratio, with the concomitant FLXPmultinom(~ stretchratio) and
# without, FLXPconstant): the best of 10 flexmix fits (set.seed(1), then ten
# starts with flexmix's default control), then refit(): flexmix maximises the
# log-likelihood again with optim (BFGS) from the EM solution and takes the
# standard errors from the inverse of optim's numerical Hessian. Recorded:
# every coefficient's estimate, standard error, z value and p value as
# summary(refit) prints them (the experts' coefficients and the gate's, whose
# first component is flexmix's reference; without concomitant the gate is the
# log-ratio of the priors), with the component's prior to match the
# components to skmoe's.
#
# Run from the repository root:
#     Rscript benchmarks/flexmix_refit_se.R [OUT_DIR]
# It writes benchmarks/flexmix_refit_se.csv.

suppressMessages(library(flexmix))
args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else "benchmarks"
data("tonedata", package = "mixtools")

best_fit <- function(concomitant) {
  set.seed(1)
  best <- NULL
  for (i in 1:10) {
    m <- if (is.null(concomitant)) {
      flexmix(tuned ~ stretchratio, data = tonedata, k = 2)
    } else {
      flexmix(tuned ~ stretchratio, data = tonedata, k = 2,
              concomitant = FLXPmultinom(concomitant))
    }
    if (length(m@prior) == 2 && (is.null(best) || logLik(m) > logLik(best))) {
      best <- m
    }
  }
  best
}

# one row per coefficient of a summary(refit) table
coef_rows <- function(setting, j, prior, block, tab, m) {
  data.frame(
    setting = setting, component = j, prior = sprintf("%.10g", prior[j]),
    block = block, term = rownames(tab),
    estimate = sprintf("%.10g", tab[, 1]), std_error = sprintf("%.10g", tab[, 2]),
    z = sprintf("%.10g", tab[, 3]), p_value = sprintf("%.10g", tab[, 4]),
    loglik = sprintf("%.10f", logLik(m)))
}

rows <- list()
for (setting in c("tonedata_k2", "tonedata_k2_constant")) {
  m <- best_fit(if (setting == "tonedata_k2") ~ stretchratio else NULL)
  s <- summary(refit(m))
  prior <- prior(m)
  for (j in 1:2) {
    rows[[length(rows) + 1]] <- coef_rows(setting, j, prior, "expert",
                                          s@components[[1]][[j]], m)
  }
  # the gate (flexmix's component 1 is the reference): component 2's row
  rows[[length(rows) + 1]] <- coef_rows(setting, 2, prior, "gate",
                                        s@concomitant[[1]], m)
}
out <- do.call(rbind, rows)
out$R <- paste(R.version$major, R.version$minor, sep = ".")
out$flexmix <- format(packageVersion("flexmix"))
write.csv(out, file.path(out_dir, "flexmix_refit_se.csv"), row.names = FALSE)
print(out)
