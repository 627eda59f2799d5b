"""Cost of a gate / expert column selection: the general EM loop vs the fused one.

One question: a model whose gate reads ``z`` and whose experts read ``x``
(``gate_features``, ``expert_features``) runs the general EM loop, because
:class:`~skmoe.gating.ColumnGating` and :class:`~skmoe.experts.ColumnExperts`
lack the ability ``"linear"`` of the fused EM. How much slower is an EM
iteration than the fused loop of a plain model of the same size, and than the
fused loop of the plain model on all the columns (what a user would fit
without the selection)?

Data: ``n`` rows, ``d`` standard normal columns, a target from a gate on the
last column and experts on the first ``d - 1``. Three fits from the same
kind of start, ``--iters`` EM iterations with ``tol=0`` (every run does the
same number of iterations), ``--repeats`` runs each after one warm-up, median
seconds per iteration:

- ``selection``: ``gate_features=[d-1]``, ``expert_features=[0..d-2]`` (general
  loop);
- ``plain fused``: all columns for both (fused loop);
- ``plain unfused``: all columns, general loop (``run_em``'s ``_fusable``
  patched), to separate the loop's cost from the smaller designs.

Usage::

    python benchmarks/bench_covariates.py --n 100000 --d 3 --K 3
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor
from skmoe.solvers import _em as em_module


def _data(n, d, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    gate = 1.0 / (1.0 + np.exp(-3.0 * X[:, -1]))
    slopes = rng.standard_normal(d - 1)
    y = np.where(rng.random_sample(n) < gate, X[:, :-1] @ slopes + 1.0,
                 -(X[:, :-1] @ slopes) - 1.0) + 0.3 * rng.standard_normal(n)
    return X, y


def _seconds_per_iteration(est, X, y, iters, repeats):
    times = []
    for _ in range(repeats + 1):  # the first run warms up (compiles)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        times.append((time.perf_counter() - t0) / iters)
    return float(np.median(times[1:])), est.log_likelihood_


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=3)
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    X, y = _data(args.n, args.d)
    common = dict(n_experts=args.K, max_iter=args.iters, tol=0.0, random_state=0)
    d = args.d
    rows = {}
    rows["selection"] = _seconds_per_iteration(
        MixtureOfExpertsRegressor(gate_features=[d - 1],
                                  expert_features=list(range(d - 1)), **common),
        X, y, args.iters, args.repeats)
    rows["plain fused"] = _seconds_per_iteration(
        MixtureOfExpertsRegressor(**common), X, y, args.iters, args.repeats)
    original = em_module._fusable
    em_module._fusable = lambda params: "benchmark: not fused"
    try:
        rows["plain unfused"] = _seconds_per_iteration(
            MixtureOfExpertsRegressor(**common), X, y, args.iters, args.repeats)
    finally:
        em_module._fusable = original
    print(f"n={args.n} d={d} K={args.K} iters={args.iters} "
          f"repeats={args.repeats} nproc={os.cpu_count()} "
          f"loadavg={os.getloadavg()}")
    fused = rows["plain fused"][0]
    for name, (sec, loglik) in rows.items():
        print(f"{name:>14}: {1e3 * sec:8.2f} ms/iteration  ({sec / fused:4.2f} x "
              f"plain fused)  log-lik {loglik: .6e}")


if __name__ == "__main__":
    main()
