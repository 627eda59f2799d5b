# flexmix's (and mixtools') optima on the real data sets shipped in
# skmoe.datasets: the reference that skmoe's fits are compared with
# (tests/test_real_data_optima.py, issues 16-18).
#
# For every setting: 30 starts (flexmix(), set.seed(1), ..., set.seed(30)
# before each; flexmix's default random start, i.e. a random hard assignment of
# the rows, and its default EM control: iter.max = 200, tolerance = 1e-6 on
# |L - L_old| / (|L| + 0.1), minprior = 0.05, classify = "auto" (plain EM)),
# unless the setting says otherwise (the Mehta settings use minprior = 0.04, as
# flexmix's own Mehta example does: with 0.05 every start of the two
# constant-weight settings drops to one component). Recorded: the best log-likelihood among
# the starts that kept all K components, its iterations, how many starts came
# within 1e-3 of it, and the wall time of the 30 starts (median of 3 repeats).
# The parameters of the best solution go to a second file.
#
# Log-likelihoods are flexmix's logLik(): sum over rows of log sum_k
# prior_k(x) f_k(y | x) with f_k from dnorm, dpois and dbinom, so the Poisson
# value includes -log(y!) and the binomial one log(choose(n, y)).
# flexmix's Gaussian M-step sets sigma^2 = sum(w r^2) / sum(w) * n / (n - p)
# (lm.wfit's residual scale, not the maximum-likelihood one), so its fixed point
# is slightly below the maximum likelihood that skmoe's EM climbs to.
#
# Run from the repository root (R with flexmix and mixtools; Debian:
# apt-get install r-cran-flexmix r-cran-mixtools r-cran-mass):
#     Rscript benchmarks/flexmix_reference.R [N_STARTS] [N_REPEATS] [OUT_DIR] [SETTINGS]
# It writes benchmarks/flexmix_reference.csv and
# benchmarks/flexmix_reference_params.csv.

suppressMessages({
  library(flexmix); library(mixtools); library(MASS)
})

args <- commandArgs(trailingOnly = TRUE)
n_starts <- if (length(args) >= 1) as.integer(args[1]) else 30L
n_repeats <- if (length(args) >= 2) as.integer(args[2]) else 3L
out_dir <- if (length(args) >= 3) args[3] else "benchmarks"
# optional 4th argument: comma-separated setting names to run (default: all,
# and mixtools' regmixEM row); benchmarks/bench_real_data.py --flexmix runs
# the Gaussian softmax-concomitant settings only, side by side with skmoe
only <- if (length(args) >= 4) strsplit(args[4], ",")[[1]] else NULL

loadavg <- function() {
  paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " ")
}
load_start <- loadavg()

data("mcycle", package = "MASS")
data("NPreg", package = "flexmix")
data("tonedata", package = "mixtools")
data("CO2data", package = "mixtools")
data("patent", package = "flexmix")
data("Mehta", package = "flexmix")
# the 0/1 dummy of skmoe.datasets.load_mehta (1 = new drug)
Mehta$new_drug <- as.numeric(Mehta$Drug == "New")

settings <- list(
  list(name = "mcycle_k3", data = "mcycle", K = 3, formula = accel ~ times,
       concomitant = ~ times, family = "gaussian"),
  list(name = "mcycle_k4", data = "mcycle", K = 4, formula = accel ~ times,
       concomitant = ~ times, family = "gaussian"),
  list(name = "npreg_k2", data = "NPreg", K = 2, formula = yn ~ x,
       concomitant = ~ x, family = "gaussian"),
  list(name = "tonedata_k2", data = "tonedata", K = 2,
       formula = tuned ~ stretchratio, concomitant = ~ stretchratio,
       family = "gaussian"),
  list(name = "tonedata_k2_constant", data = "tonedata", K = 2,
       formula = tuned ~ stretchratio, concomitant = NULL, family = "gaussian"),
  list(name = "co2_k2", data = "CO2data", K = 2, formula = CO2 ~ GNP,
       concomitant = ~ GNP, family = "gaussian"),
  list(name = "patent_k3", data = "patent", K = 3, formula = Patents ~ lgRD,
       concomitant = ~ RDS, family = "poisson"),
  list(name = "mehta_k2", data = "Mehta", minprior = 0.04, K = 2,
       formula = cbind(Response, Total - Response) ~ new_drug,
       concomitant = ~ new_drug, family = "binomial"),
  list(name = "mehta_k2_constant", data = "Mehta", minprior = 0.04, K = 2,
       formula = cbind(Response, Total - Response) ~ new_drug,
       concomitant = NULL, family = "binomial"),
  list(name = "mehta_k3", data = "Mehta", minprior = 0.04, K = 3,
       formula = cbind(Response, Total - Response) ~ new_drug,
       concomitant = ~ new_drug, family = "binomial"),
  list(name = "mehta_k3_constant", data = "Mehta", minprior = 0.04, K = 3,
       formula = cbind(Response, Total - Response) ~ new_drug,
       concomitant = NULL, family = "binomial"),
  # flexmix's own Mehta example (?Mehta): rows grouped by Site, a common
  # (fixed) Drug effect; skmoe can express neither, so it is recorded for
  # reference only and is not comparable with the per-row settings above
  list(name = "mehta_k3_flexmix_example", data = "Mehta", minprior = 0.04,
       K = 3, formula = cbind(Response, Total - Response) ~ 1 | Site,
       concomitant = NULL, family = "binomial", fixed = ~ Drug)
)

fit_once <- function(s, seed) {
  set.seed(seed)
  d <- get(s$data)
  model <- if (is.null(s$fixed)) FLXMRglm(family = s$family) else
    FLXMRglmfix(family = s$family, fixed = s$fixed)
  control <- if (is.null(s$minprior)) list() else list(minprior = s$minprior)
  m <- tryCatch(
    if (is.null(s$concomitant)) {
      flexmix(s$formula, data = d, k = s$K, model = model, control = control)
    } else {
      flexmix(s$formula, data = d, k = s$K, model = model, control = control,
              concomitant = FLXPmultinom(s$concomitant))
    },
    error = function(e) NULL)
  m
}

run_starts <- function(s) {
  fits <- vector("list", n_starts)
  for (seed in seq_len(n_starts)) fits[[seed]] <- fit_once(s, seed)
  fits
}

log_row_sums <- function(a) {
  mx <- apply(a, 1, max)
  mx + log(rowSums(exp(a - mx)))
}

# The log-likelihood recomputed from the reported parameters with dnorm,
# dpois or dbinom and a softmax (or constant) gate. It differs from logLik()
# by up to a few 1e-3 on slowly converging fits: flexmix's logLik() is that of
# its last E-step, while the gate coefficients it reports come from one more
# multinom fit on the final posteriors (FLXfillConcomitant after the loop),
# and a constant prior is the mean of the final posteriors. This is the number
# to compare with skmoe's log-density at the same parameters.
loglik_at_params <- function(s, m) {
  if (!is.null(s$fixed)) return(NA)  # grouped model: not a per-row mixture
  d <- get(s$data)
  X <- model.matrix(s$formula, d)
  p <- parameters(m)
  eta <- X %*% p[paste0("coef.", colnames(X)), , drop = FALSE]
  n <- nrow(d)
  dens <- switch(s$family,
    gaussian = dnorm(model.response(model.frame(s$formula, d)), eta,
                     matrix(p["sigma", ], n, ncol(p), byrow = TRUE), log = TRUE),
    poisson = dpois(model.response(model.frame(s$formula, d)), exp(eta),
                    log = TRUE),
    binomial = dbinom(d$Response, d$Total, plogis(eta), log = TRUE))
  logprior <- if (is.null(s$concomitant)) {
    matrix(log(prior(m)), n, ncol(p), byrow = TRUE)
  } else {
    Z <- model.matrix(s$concomitant, d)
    a <- Z %*% parameters(m, which = "concomitant")[colnames(Z), , drop = FALSE]
    a - log_row_sums(a)
  }
  sum(log_row_sums(logprior + dens))
}

param_rows <- function(name, m, family) {
  rows <- list()
  p <- parameters(m)  # one column per component
  for (j in seq_len(ncol(p))) {
    for (r in rownames(p)) {
      rows[[length(rows) + 1]] <- data.frame(
        setting = name, component = j, block = "expert", name = r,
        value = sprintf("%.15g", p[r, j]))
    }
  }
  if (!is.null(m@concomitant) && ncol(m@concomitant@coef) > 0 &&
      nrow(m@concomitant@coef) > 1) {
    g <- parameters(m, which = "concomitant")
    for (j in seq_len(ncol(g))) {
      for (r in rownames(g)) {
        rows[[length(rows) + 1]] <- data.frame(
          setting = name, component = j, block = "gate", name = r,
          value = sprintf("%.15g", g[r, j]))
      }
    }
  }
  prior <- prior(m)
  post <- posterior(m)
  for (j in seq_along(prior)) {
    rows[[length(rows) + 1]] <- data.frame(
      setting = name, component = j, block = "prior", name = "prior",
      value = sprintf("%.15g", prior[j]))
    rows[[length(rows) + 1]] <- data.frame(
      setting = name, component = j, block = "size", name = "size",
      value = sprintf("%d", sum(clusters(m) == j)))
  }
  do.call(rbind, rows)
}

results <- list()
params <- list()
if (!is.null(only)) {
  settings <- Filter(function(s) s$name %in% only, settings)
}
for (s in settings) {
  times <- numeric(n_repeats)
  for (r in seq_len(n_repeats)) {
    t <- system.time(fits <- run_starts(s))
    times[r] <- t[["elapsed"]]
  }
  ran <- Filter(Negate(is.null), fits)
  ok <- Filter(function(m) length(m@size) == s$K, ran)
  conc <- if (is.null(s$concomitant)) "FLXPconstant" else
    paste0("FLXPmultinom(", deparse(s$concomitant), ")")
  # starts that lost components (prior below minprior) are not comparable
  k_kept <- sapply(ran, function(m) length(m@size))
  model <- if (is.null(s$fixed))
    paste0("FLXMRglm(family = \"", s$family, "\")") else
    paste0("FLXMRglmfix(family = \"", s$family, "\", fixed = ",
           deparse(s$fixed), ")")
  row <- data.frame(
    setting = s$name, data = s$data, K = s$K, model = model,
    formula = deparse(s$formula), concomitant = conc,
    control = if (is.null(s$minprior))
      "default (iter.max 200, tolerance 1e-6, minprior 0.05)" else
      sprintf("iter.max 200, tolerance 1e-6, minprior %g", s$minprior),
    n_starts = n_starts, n_failed = n_starts - length(ran),
    n_kept_K = length(ok),
    components_kept = paste0("K=", rev(names(table(k_kept))), ":",
                             rev(as.vector(table(k_kept))), collapse = " "),
    best_loglik = NA, loglik_at_params = NA, n_within_1e3 = NA,
    iter_best = NA, converged_best = NA,
    df = NA, n = nrow(get(s$data)),
    seconds_30_starts_median = sprintf("%.3f", median(times)),
    seconds_repeats = paste(sprintf("%.3f", times), collapse = " "),
    mean_iter = sprintf("%.1f", mean(sapply(ran, function(m) m@iter))))
  if (length(ok) > 0) {
    lls <- sapply(ok, function(m) as.numeric(logLik(m)))
    best <- ok[[which.max(lls)]]
    bll <- max(lls)
    row$best_loglik <- sprintf("%.8f", bll)
    row$loglik_at_params <- sprintf("%.10f", loglik_at_params(s, best))
    row$n_within_1e3 <- sum(lls >= bll - 1e-3)
    row$iter_best <- best@iter
    row$converged_best <- best@converged
    row$df <- attr(logLik(best), "df")
    params[[length(params) + 1]] <- param_rows(s$name, best, s$family)
  }
  results[[length(results) + 1]] <- row
  cat(sprintf("%-22s best %s (%d/%d starts kept K components, %s within 1e-3) iter %s, %s s\n",
              s$name, row$best_loglik, length(ok), n_starts, row$n_within_1e3,
              row$iter_best, row$seconds_30_starts_median))
}

# mixtools' regmixEM on tonedata: covariate-free weights, exact ML (its own
# defaults: epsilon = 1e-8 on the log-likelihood change, maxit = 10000,
# random start from its own regmix.init)
run_regmix <- is.null(only) || "tonedata_k2_regmixEM" %in% only
regmix_once <- function(seed) {
  set.seed(seed)
  m <- NULL
  tryCatch(invisible(capture.output(m <- suppressWarnings(
    regmixEM(tonedata$tuned, tonedata$stretchratio, k = 2)))),
    error = function(e) NULL)
  m
}
if (run_regmix) {
  times <- numeric(n_repeats)
  for (r in seq_len(n_repeats)) {
    t <- system.time(fits <- lapply(seq_len(n_starts), regmix_once))
    times[r] <- t[["elapsed"]]
  }
  ok <- Filter(Negate(is.null), fits)
  lls <- sapply(ok, function(m) m$loglik)
  best <- ok[[which.max(lls)]]
  bll <- max(lls)
  results[[length(results) + 1]] <- data.frame(
    setting = "tonedata_k2_regmixEM", data = "tonedata", K = 2,
    model = "mixtools::regmixEM", formula = "tuned ~ stretchratio",
    concomitant = "constant weights",
    control = "default (epsilon 1e-8, maxit 10000)",
    n_starts = n_starts, n_failed = n_starts - length(ok), n_kept_K = length(ok),
    components_kept = paste0("K=2:", length(ok)),
    best_loglik = sprintf("%.8f", bll),
    loglik_at_params = sprintf("%.10f", sum(log(rowSums(sapply(1:2, function(j)
      best$lambda[j] * dnorm(tonedata$tuned, best$beta[1, j] +
        best$beta[2, j] * tonedata$stretchratio, best$sigma[j])))))),
    n_within_1e3 = sum(lls >= bll - 1e-3),
    iter_best = length(best$all.loglik) - 1, converged_best = NA,
    df = 2 * 2 + 2 + 1, n = nrow(tonedata),
    seconds_30_starts_median = sprintf("%.3f", median(times)),
    seconds_repeats = paste(sprintf("%.3f", times), collapse = " "),
    mean_iter = sprintf("%.1f", mean(sapply(ok, function(m) length(m$all.loglik) - 1))))
  rows <- list()
  for (j in 1:2) {
    rows[[length(rows) + 1]] <- data.frame(
      setting = "tonedata_k2_regmixEM", component = j, block = "expert",
      name = c("coef.(Intercept)", "coef.stretchratio", "sigma"),
      value = sprintf("%.15g", c(best$beta[, j], best$sigma[j])))
    rows[[length(rows) + 1]] <- data.frame(
      setting = "tonedata_k2_regmixEM", component = j, block = "prior",
      name = "prior", value = sprintf("%.15g", best$lambda[j]))
  }
  params[[length(params) + 1]] <- do.call(rbind, rows)
  cat(sprintf("%-22s best %.6f (%d/%d starts ran) %s s\n", "tonedata_k2_regmixEM",
              bll, length(ok), n_starts, sprintf("%.3f", median(times))))
}

res <- do.call(rbind, results)
res$R <- paste(R.version$major, R.version$minor, sep = ".")
res$flexmix <- format(packageVersion("flexmix"))
res$mixtools <- format(packageVersion("mixtools"))
res$date <- format(Sys.time(), "%Y-%m-%d", tz = "UTC")
res$nproc <- parallel::detectCores()
res$loadavg_start <- load_start
res$loadavg_end <- loadavg()
write.csv(res, file.path(out_dir, "flexmix_reference.csv"), row.names = FALSE)
write.csv(do.call(rbind, params), file.path(out_dir, "flexmix_reference_params.csv"),
          row.names = FALSE)
cat("written", file.path(out_dir, "flexmix_reference.csv"), "and",
    file.path(out_dir, "flexmix_reference_params.csv"), "\n")
