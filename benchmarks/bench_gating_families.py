"""Fitting every gating family on data drawn from it.

One question: for each gating family (and shared experts), how long does an
EM fit take, and how close does it get to the truth that generated the data?
For every family and seed the data come from
``make_moe_regression(n, 2, K, gating=family, random_state=seed)`` (shared
experts: ``n_shared_experts=1``), and ``MixtureOfExpertsRegressor(K,
gating=family, n_init=..., random_state=seed)`` is fitted. Reported per fit:
wall time, EM iterations of the kept run, the log-likelihood gain over the
truth (negative: a worse local maximum), the largest matched expert slope,
intercept and variance errors (``skmoe.metrics.parameter_error``), and the
mean absolute difference of the matched gates on 5000 fresh inputs. Every
fit warms up first on tiny data so that compilation is not timed.

Usage::

    python benchmarks/bench_gating_families.py                # n=5000, 3 seeds
    python benchmarks/bench_gating_families.py --n 3000 --seeds 5 --n-init 1
    python benchmarks/bench_gating_families.py --families top2 shared

Results are written as JSON to ``benchmarks/results/bench_gating_families.json``
(or ``--json PATH``).
"""

import argparse
import json
import os
import platform
import time
import warnings

import numba
import numpy as np
import sklearn

from skmoe import (
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression
from skmoe.metrics import parameter_error

FAMILIES = {
    "softmax": (SoftmaxGating(), 3, {}),
    "learned_temperature": (SoftmaxGating(learn_temperature=True), 3, {}),
    "tanh_learned_temperature": (
        SoftmaxGating(activation="tanh", learn_temperature=True, temperature=0.3),
        3, {}),
    "geometric_schedule": (SoftmaxGating(schedule="geometric"), 3, {}),
    "top1": (SoftmaxGating(top_k=1), 3, {}),
    "top2": (SoftmaxGating(top_k=2), 3, {}),
    "top2_exact_only": (SoftmaxGating(top_k=2, anneal_iter=0), 3, {}),
    "normalized_sigmoid": (NormalizedSigmoidGating(), 3, {}),
    "normalized_sigmoid_top2": (NormalizedSigmoidGating(top_k=2), 3, {}),
    "hierarchical": (HierarchicalSoftmaxGating(n_groups=2), 4, {}),
    "shared": (SoftmaxGating(), 2, {"n_shared_experts": 1}),
}


def fit_one(gating, K, extra, n, seed, n_init):
    X, y, truth = make_moe_regression(n, 2, K, gating=gating, random_state=seed,
                                      **extra)
    t0 = time.perf_counter()
    est = MixtureOfExpertsRegressor(K, gating=gating, n_init=n_init,
                                    random_state=seed, **extra).fit(X, y)
    seconds = time.perf_counter() - t0
    err = parameter_error(est.params_, truth)
    ei, ti = err["est_index"], err["true_index"]
    X_test = np.random.RandomState(99).standard_normal((5000, 2))
    gate_err = np.abs(est.params_.gates(X_test)[:, ei] - truth.gates(X_test)[:, ti])
    return {
        "seconds": seconds,
        "n_iter": int(est.n_iter_),
        "converged": bool(est.converged_),
        "gain_over_truth": float(est.log_likelihood_
                                 - truth.log_density(X, y).sum()),
        "expert_coef": float(err["expert_coef"].max()),
        "expert_intercept": float(err["expert_intercept"].max()),
        "variance": float(err["variance"].max()),
        "gate_mean_abs": float(gate_err.mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-init", type=int, default=1)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES),
                        choices=list(FAMILIES))
    parser.add_argument("--json", default=os.path.join(
        os.path.dirname(__file__), "results", "bench_gating_families.json"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"nproc={os.cpu_count()} numba={numba.__version__} "
          f"threading={numba.config.THREADING_LAYER} numpy={np.__version__} "
          f"sklearn={sklearn.__version__} python={platform.python_version()}")
    out = {"args": vars(args), "results": {}}
    for name in args.families:
        gating, K, extra = FAMILIES[name]
        fit_one(gating, K, extra, 200, 0, 1)  # compile outside the timing
        rows = [fit_one(gating, K, extra, args.n, seed, args.n_init)
                for seed in range(args.seeds)]
        out["results"][name] = rows
        for seed, r in enumerate(rows):
            print(f"{name:26s} seed {seed}  {r['seconds']:6.2f}s  "
                  f"it {r['n_iter']:4d}  gain {r['gain_over_truth']:9.1f}  "
                  f"expert coef {r['expert_coef']:.3f} intercept "
                  f"{r['expert_intercept']:.3f} variance {r['variance']:.4f}  "
                  f"gate {r['gate_mean_abs']:.4f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
