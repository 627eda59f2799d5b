"""The tensor method (arXiv:1802.07417): recovery rate, EM starts, decompositions.

Three studies on Gaussian-input data from
:func:`skmoe.datasets.make_orthogonal_moe_regression` (d = 10, the setting of
the paper's guarantee):

1. ``rate``: median error of the tensor estimate of the expert slopes (largest
   Euclidean error after Hungarian matching) against n, and the least-squares
   slope of log(error) on log(n) (theory: -1/2).
2. ``em``: over ``--seeds`` data sets, the fraction of fits that recover the
   truth for joint EM from a random start (``init_params="random"``), EM from
   the tensor estimate (``init_params="tensor"``) and ``solver="tensor"``
   alone and ``solver="two_loss"``. "Recovers": the largest matched expert-slope error
   (:func:`skmoe.metrics.parameter_error`) is below ``--threshold`` (0.25;
   the true unit slopes are orthonormal, so two distinct experts are sqrt(2)
   apart and a swapped or merged expert has an error near 0.7 or more).
3. ``decomposition``: tensor power method (restarts + deflation) against
   orthogonalised ALS (and the landscape-designed expert loss of
   ``solver="two_loss"``) on the same whitened tensors: how many distinct
   results 5 random starts give, the error against the truth, and the time
   per decomposition (alternated runs in one process).
4. ``stage2``: the second stage of ``solver="two_loss"`` (L-BFGS-B on the
   gate, variances, scales and intercepts with the directions fixed) against
   EM over the same set (``fixed_direction_em``, as ``solver="tensor"``)
   from the same start, and ``solver="tensor"``: whether the remaining error
   comes from the second stage or from the directions.

Run ``PYTHONPATH=$PWD python benchmarks/bench_tensor_init.py`` (all studies;
``--quick`` for a smoke run).
"""

import argparse
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

from skmoe import LinearExperts, MixtureOfExpertsRegressor, SoftmaxGating
from skmoe.datasets import make_orthogonal_moe_regression
from skmoe.metrics import parameter_error
from skmoe.solvers._gradient import run_lbfgs
from skmoe.solvers._tensor import (
    DECOMPOSITIONS,
    fixed_direction_em,
    moment_tensors,
    tensor_experts,
)
from skmoe.solvers._two_loss import direction_basis, landscape_experts, two_loss_start

#: the decompositions compared: the two of the tensor method and the
#: landscape-designed loss of solver="two_loss" (same whitened tensor)
METHODS = dict(DECOMPOSITIONS,
               two_loss=lambda M3, rng: landscape_experts(M3, rng)[:2])


def coef_error(coef, truth):
    """Largest matched Euclidean error of the expert slopes."""
    A = truth.expert_params[:, : truth.n_features]
    cost = ((coef[:, None, :] - A[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols]).max())


def rate(ns, n_seeds):
    for K in (2, 3):
        medians = []
        for n in ns:
            errors = []
            for seed in range(n_seeds):
                X, y, truth = make_orthogonal_moe_regression(n, 10, K,
                                                             random_state=seed)
                coef, _, _ = tensor_experts(X, y, np.ones(n), K,
                                            np.random.RandomState(seed))
                errors.append(coef_error(coef, truth))
            medians.append(np.median(errors))
            print(f"rate K={K} n={n:7d} median error {medians[-1]:.4f}")
        slope = np.polyfit(np.log(ns), np.log(medians), 1)[0]
        print(f"rate K={K} slope of log(error) on log(n): {slope:.3f}")


def em(settings, n_seeds, threshold):
    for K, n, noise in settings:
        ok = {"random": 0, "tensor": 0, "solver=tensor": 0, "solver=two_loss": 0}
        failed_random = []
        for seed in range(n_seeds):
            X, y, truth = make_orthogonal_moe_regression(n, 10, K, noise=noise,
                                                         random_state=seed)
            for name, kwargs in (("random", dict(init_params="random")),
                                 ("tensor", dict(init_params="tensor")),
                                 ("solver=tensor", dict(solver="tensor")),
                                 ("solver=two_loss", dict(solver="two_loss"))):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = MixtureOfExpertsRegressor(K, max_iter=500, random_state=seed,
                                                  **kwargs).fit(X, y)
                err = parameter_error(m.params_, truth)["expert_coef"].max()
                ok[name] += err < threshold
                if name == "random" and err >= threshold:
                    failed_random.append(seed)
        summary = ", ".join(f"{k} {v}/{n_seeds}" for k, v in ok.items())
        print(f"em K={K} n={n} noise={noise}: recovered {summary}; random-start "
              f"failures at seeds {failed_random}")


def decomposition(n, n_seeds, n_starts=5, repeats=20):
    for K in (2, 3):
        for name, fn in METHODS.items():
            distinct, errors = [], []
            for seed in range(n_seeds):
                X, y, truth = make_orthogonal_moe_regression(n, 10, K,
                                                             random_state=seed)
                lams = []
                for s in range(n_starts):
                    lam, _ = fn(moment_tensors(X, y, np.ones(n), K)["M3"],
                                np.random.RandomState(s))
                    lams.append(np.sort(lam))
                spread = np.ptp(np.array(lams), axis=0).max()
                distinct.append(spread > 1e-8 * np.abs(lams[0]).max())
                if name in DECOMPOSITIONS:
                    coef, _, _ = tensor_experts(X, y, np.ones(n), K,
                                                np.random.RandomState(0),
                                                decomposition=name)
                    errors.append(coef_error(coef, truth))
            error = f", median error {np.median(errors):.4f}" if errors else ""
            print(f"decomposition K={K} n={n} {name}: start-dependent result in "
                  f"{sum(distinct)}/{n_seeds} data sets{error}")
        X, y, _ = make_orthogonal_moe_regression(n, 10, K, random_state=0)
        M3 = moment_tensors(X, y, np.ones(n), K)["M3"]
        times = {name: [] for name in METHODS}
        for r in range(repeats):  # alternated, same process
            for name, fn in METHODS.items():
                t0 = time.perf_counter()
                fn(M3, np.random.RandomState(r))
                times[name].append(time.perf_counter() - t0)
        t = {k: np.median(v) for k, v in times.items()}
        print(f"decomposition K={K} time per call: " + ", ".join(
            f"{k} {v * 1e3:.1f} ms" for k, v in t.items())
            + f"; ratio power/orth_als {t['power'] / t['orth_als']:.1f}")


def stage2(settings, n_seeds, threshold, tol=1e-4, max_iter=500):
    for K, n, noise in settings:
        errors = []
        for seed in range(n_seeds):
            X, y, truth = make_orthogonal_moe_regression(n, 10, K, noise=noise,
                                                         random_state=seed)
            w, var_floor = np.ones(n), 1e-6 * y.var()
            start = two_loss_start(X, y, w, K, SoftmaxGating(), LinearExperts(),
                                   np.random.RandomState(seed), var_floor)
            basis = direction_basis(start.experts, start.expert_params, 10)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits = [
                    run_lbfgs(X, y, w, start, objective="likelihood",
                              max_iter=max_iter, tol=tol, var_floor=var_floor,
                              expert_basis=basis).params,
                    fixed_direction_em(X, y, w, start, max_iter=max_iter, tol=tol,
                                       var_floor=var_floor).params,
                    MixtureOfExpertsRegressor(K, max_iter=max_iter, solver="tensor",
                                              random_state=seed).fit(X, y).params_,
                ]
            errors.append([parameter_error(p, truth)["expert_coef"].max()
                           for p in fits])
        errors = np.array(errors)
        for j, name in enumerate(["two_loss L-BFGS-B stage", "same start, EM",
                                  "solver=tensor"]):
            print(f"stage2 K={K} n={n} noise={noise} {name}: recovered "
                  f"{int(np.sum(errors[:, j] < threshold))}/{n_seeds}, median "
                  f"error {np.median(errors[:, j]):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--threshold", type=float, default=0.25)
    parser.add_argument("--study",
                        choices=["rate", "em", "decomposition", "stage2", "all"],
                        default="all")
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    if args.study in ("rate", "all"):
        ns = [2000, 8000] if args.quick else [2000, 8000, 32000, 128000]
        rate(ns, 2 if args.quick else 5)
    if args.study in ("em", "all"):
        settings = [(2, 4000, 0.5), (3, 4000, 0.5), (3, 8000, 0.7)]
        em(settings[:1] if args.quick else settings, seeds, args.threshold)
    if args.study in ("decomposition", "all"):
        decomposition(4000, 2 if args.quick else 10)
    if args.study in ("stage2", "all"):
        stage2([(3, 4000, 0.5)], seeds, args.threshold)


if __name__ == "__main__":
    main()
