"""Robustness of the Student-t mixture of experts to gross outliers.

Data: ``make_moe_regression(n, d, K, random_state=seed)`` (softmax gate,
linear experts, Gaussian noise sd 0.3), then ``add_outliers(y, 0.05,
random_state=seed)`` (5% of the targets shifted by a random sign times
U(10, 20) standard deviations of ``y``). Fitted: ``MixtureOfExpertsRegressor(K,
noise=..., n_init=..., max_iter=..., random_state=seed)`` with Gaussian and
Student-t noise. Reported per fit: the largest Euclidean error of an expert's
parameters (slopes and intercept, experts matched to the truth by
``skmoe.metrics.parameter_error``), EM iterations, log-likelihood, wall time
and the estimated degrees of freedom.

``--ecme-after N`` sets ``skmoe.noise.DF_ECME_AFTER`` (default 20): a huge
value gives the plain ECM update of the degrees of freedom.
``--starts`` fits seed 0's data from ``random_state`` 0..S-1 instead (one
data set, several starts), as in the user guide's comparison.

Usage::

    python benchmarks/bench_student_t.py        # K=2, d=2, n=500, 10 seeds
    python benchmarks/bench_student_t.py --n 1000 --k 3 --seeds 6 --n-init 3
    python benchmarks/bench_student_t.py --d 1 --starts 6 --n-init 1 --max-iter 1000
    python benchmarks/bench_student_t.py --ecme-after 1000000000 --n-init 1
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import skmoe.noise
from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import add_outliers, make_moe_regression
from skmoe.metrics import parameter_error


def max_expert_error(est, truth):
    e = parameter_error(est.params_, truth)
    return float(np.sqrt(e["expert_coef"] ** 2 + e["expert_intercept"] ** 2).max())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--d", type=int, default=2)
    p.add_argument("--k", type=int, default=2)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--starts", type=int, default=0)
    p.add_argument("--n-init", type=int, default=2)
    p.add_argument("--max-iter", type=int, default=500)
    p.add_argument("--ecme-after", type=int, default=skmoe.noise.DF_ECME_AFTER)
    args = p.parse_args()
    skmoe.noise.DF_ECME_AFTER = args.ecme_after
    warnings.simplefilter("ignore", ConvergenceWarning)
    runs = ([(0, s) for s in range(args.starts)] if args.starts
            else [(s, s) for s in range(args.seeds)])
    print("seed start noise max_expert_error n_iter log_lik seconds df")
    for seed, start in runs:
        X, y, truth = make_moe_regression(args.n, args.d, args.k, random_state=seed)
        y_out, _ = add_outliers(y, 0.05, random_state=seed)
        for noise in ("gaussian", "student_t"):
            t0 = time.perf_counter()
            est = MixtureOfExpertsRegressor(
                args.k, noise=noise, n_init=args.n_init, max_iter=args.max_iter,
                random_state=start,
            ).fit(X, y_out)
            df = est.params_.noise_df
            print(seed, start, noise, f"{max_expert_error(est, truth):.3f}",
                  est.n_iter_, f"{est.log_likelihood_:.2f}",
                  f"{time.perf_counter() - t0:.2f}",
                  "-" if df is None else np.round(df, 1).tolist(), flush=True)


if __name__ == "__main__":
    main()
