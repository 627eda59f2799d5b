"""GLM experts: recovery on generated data and K = 1 against scikit-learn.

Recovery. Data: ``make_moe_regression(n, d, K, response=..., n_trials=...,
random_state=seed)`` (softmax gate of scale 3, linear experts: log means of
Poisson counts, or log-odds of binomial proportions of ``n_trials`` trials).
Fitted: ``MixtureOfExpertsRegressor(K, noise=..., n_init=..., random_state=0)``
with ``sample_weight`` the trials. Reported per seed: the largest error of an
expert's slopes or intercept (experts matched to the truth by
``skmoe.metrics.parameter_error``), the largest ``|estimate - truth| /
standard error`` over the expert parameters (standard errors from the
observed information), the fitted log-likelihood minus the truth's, EM
iterations and wall time.

K = 1. Poisson counts and binomial proportions (500 rows, 3 features,
random weights or trials) fitted by ``noise="poisson"``/``"binomial"`` with
``tol=1e-12`` and by ``PoissonRegressor(alpha=0)`` /
``LogisticRegression(C=inf)`` (successes and failures as weighted rows), both
with ``solver="newton-cholesky"`` and ``tol=1e-12``: the largest coefficient
difference and the wall times.

Usage::

    python benchmarks/bench_glm.py                       # both families, K=3
    python benchmarks/bench_glm.py --noise poisson --k 2 --seeds 10
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, PoissonRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.metrics import match_experts, parameter_error


def recovery(noise, n, d, k, trials, seeds, n_init):
    print(f"recovery: noise={noise!r}, n={n}, d={d}, K={k}, n_trials={trials}, "
          f"n_init={n_init}")
    print("seed  max error  max |z|  loglik - truth  n_iter  time (s)")
    for seed in range(seeds):
        X, y, truth = make_moe_regression(n, d, k, response=noise,
                                          n_trials=trials if noise == "binomial"
                                          else 1, random_state=seed)
        w = np.full(n, float(trials)) if noise == "binomial" else None
        t0 = time.perf_counter()
        est = MixtureOfExpertsRegressor(k, noise=noise, n_init=n_init,
                                        random_state=0).fit(X, y, sample_weight=w)
        elapsed = time.perf_counter() - t0
        err = parameter_error(est.params_, truth)
        e_idx, t_idx = match_experts(est.params_, truth)
        se = est.standard_errors(X, y, w).expert_params[e_idx]
        z = np.abs(est.params_.expert_params[e_idx] - truth.expert_params[t_idx]) / se
        gain = est.log_likelihood_ - truth.log_density(X, y, w).sum()
        worst = max(err["expert_coef"].max(), err["expert_intercept"].max())
        print(f"{seed:4d}  {worst:9.3f}  {z.max():7.2f}  {gain:14.2f}  "
              f"{est.n_iter_:6d}  {elapsed:8.2f}")


def versus_sklearn():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((500, 3))
    y = rng.poisson(np.exp(X @ [0.5, -0.3, 0.2] + 1.0)).astype(float)
    w = rng.randint(1, 4, 500).astype(float)
    t0 = time.perf_counter()
    sk = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12,
                          max_iter=1000).fit(X, y, sample_weight=w)
    t_sk = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = MixtureOfExpertsRegressor(1, noise="poisson", tol=1e-12,
                                    max_iter=50).fit(X, y, sample_weight=w)
    t_moe = time.perf_counter() - t0
    diff = np.abs(est.params_.expert_params[0] - np.r_[sk.coef_, sk.intercept_])
    print(f"K=1 Poisson vs PoissonRegressor: max |coef diff| {diff.max():.1e}, "
          f"time {t_moe:.3f}s vs {t_sk:.3f}s")
    trials = rng.randint(1, 10, 500).astype(float)
    p = 1.0 / (1.0 + np.exp(-(X @ [1.0, -0.5, 0.3] - 0.2)))
    s = rng.binomial(trials.astype(int), p).astype(float)
    t0 = time.perf_counter()
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12,
                            max_iter=1000).fit(
        np.vstack([X, X]), np.r_[np.ones(500), np.zeros(500)],
        sample_weight=np.r_[s, trials - s])
    t_sk = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = MixtureOfExpertsRegressor(1, noise="binomial", tol=1e-12,
                                    max_iter=50).fit(X, s / trials,
                                                     sample_weight=trials)
    t_moe = time.perf_counter() - t0
    diff = np.abs(est.params_.expert_params[0] - np.r_[lr.coef_[0], lr.intercept_])
    print(f"K=1 binomial vs LogisticRegression: max |coef diff| {diff.max():.1e}, "
          f"time {t_moe:.3f}s vs {t_sk:.3f}s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", choices=["poisson", "binomial", "both"],
                        default="both")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--d", type=int, default=2)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--n-init", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    versus_sklearn()
    for noise in (["poisson", "binomial"] if args.noise == "both" else [args.noise]):
        recovery(noise, args.n, args.d, args.k, args.n_trials, args.seeds,
                 args.n_init)


if __name__ == "__main__":
    main()
