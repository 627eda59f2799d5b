"""L-BFGS on the likelihood against EM, for linear and FFN experts.

One question: for maximum likelihood, how long do ``solver="lbfgs"`` (L-BFGS-B
on all parameters, value and gradient from one Numba pass plus the families'
vector-Jacobian products) and ``solver="em"`` take to converge from the same
start, and do they reach the same log-likelihood?

For every expert family and ``n`` the data come from
``make_moe_regression(n, d, K, experts=family, random_state=0)`` (FFN experts:
tanh), and the common start is one EM iteration from the k-means start
(``init_params="kmeans", max_iter=1, random_state=0``); both solvers then run
from it with ``tol=1e-6`` (the same relative-change rule) and ``max_iter``
iterations at most. Reported separately:

- compile time: in fresh subprocesses with ``NUMBA_CACHE_DIR`` set to a new
  empty directory, the first fit of each (family, solver) on tiny data minus
  the second one (cold cache), then the same with the cache filled;
- steady state: the median wall time to convergence over ``--repeats`` runs
  after one warm-up run, with the iterations and the seconds per iteration;
- accuracy: the final log-likelihood per sample of each solver, and the
  difference lbfgs - em (positive: L-BFGS ended higher);
- ratios: lbfgs time / em time.

Usage::

    python benchmarks/bench_gradient.py                    # n in 1e4, 1e5, 1e6
    python benchmarks/bench_gradient.py --quick            # seconds
    python benchmarks/bench_gradient.py --n 10000 100000 --experts ffn

Results are written as JSON to ``benchmarks/results/bench_gradient.json`` (or
``--json PATH``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DEFAULT_JSON = HERE / "results" / "bench_gradient.json"
SEED = 0
SOLVERS = ("em", "lbfgs")

_COMPILE_CODE = """
import json, time, warnings
from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
out = {}
for experts in EXPERTS:
    X, y, _ = make_moe_regression(300, 2, 2, experts=experts, random_state=0)
    for solver in SOLVERS:
        times = []
        for _ in range(2):
            est = MixtureOfExpertsRegressor(2, experts=experts, solver=solver,
                                            max_iter=5, tol=0.0, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                est.fit(X, y)
                times.append(time.perf_counter() - t0)
        out[experts + "/" + solver] = times
print(json.dumps(out))
"""


def compile_times(experts, solvers):
    """First and second tiny fit per (family, solver), cold then warm cache."""
    code = f"EXPERTS = {list(experts)!r}\nSOLVERS = {list(solvers)!r}\n"
    code += _COMPILE_CODE
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        for label in ("cold", "warm"):
            res = subprocess.run([sys.executable, "-c", code], env=env,
                                 capture_output=True, text=True, check=True)
            out[label] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def fit(X, y, K, experts, solver, start, max_iter, tol):
    from skmoe import MixtureOfExpertsRegressor

    est = MixtureOfExpertsRegressor(K, experts=experts, solver=solver,
                                    init_params=start, max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
    return est, seconds


def bench_point(experts, n, args):
    from skmoe import MixtureOfExpertsRegressor
    from skmoe.datasets import make_moe_regression

    X, y, truth = make_moe_regression(n, args.d, args.K, experts=experts,
                                      random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = MixtureOfExpertsRegressor(
            args.K, experts=experts, init_params="kmeans", max_iter=1,
            random_state=0,
        ).fit(X, y).params_
    repeats = args.repeats if n < args.large_n else args.repeats_large
    rec = {"experts": experts, "n": n, "d": args.d, "K": args.K,
           "repeats": repeats,
           "truth_loglik_per_sample": float(truth.log_density(X, y).mean()),
           "start_loglik_per_sample": float(start.log_density(X, y).mean())}
    for solver in args.solvers:
        est, warm = fit(X, y, args.K, experts, solver, start, args.max_iter,
                        args.tol)
        times = [fit(X, y, args.K, experts, solver, start, args.max_iter,
                     args.tol)[1] for _ in range(repeats)]
        med = statistics.median(times)
        rec[solver] = {
            "warmup_s": warm,
            "times_s": times,
            "median_s": med,
            "n_iter": int(est.n_iter_),
            "s_per_iter": med / est.n_iter_,
            "converged": bool(est.converged_),
            "loglik": float(est.log_likelihood_),
            "loglik_per_sample": float(est.log_likelihood_) / n,
        }
        print(f"  {experts:6s} n={n:>8d} {solver:5s} {med:9.3f} s  "
              f"{est.n_iter_:4d} it  {1e3 * med / est.n_iter_:8.2f} ms/it  "
              f"loglik/n {est.log_likelihood_ / n: .6f}  "
              f"converged={est.converged_}", flush=True)
    if "em" in rec and "lbfgs" in rec:
        em, lbfgs = rec["em"], rec["lbfgs"]
        rec["time_ratio_lbfgs_over_em"] = lbfgs["median_s"] / em["median_s"]
        rec["loglik_diff_lbfgs_minus_em"] = lbfgs["loglik"] - em["loglik"]
        print(f"  {experts:6s} n={n:>8d} ratio lbfgs/em time "
              f"{rec['time_ratio_lbfgs_over_em']:.2f}, log-lik lbfgs - em "
              f"{rec['loglik_diff_lbfgs_minus_em']: .3e} "
              f"({rec['loglik_diff_lbfgs_minus_em'] / n: .2e} per sample)",
              flush=True)
    return rec


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+",
                        default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--d", type=int, default=2)
    parser.add_argument("--K", type=int, default=3)
    parser.add_argument("--experts", nargs="+", default=["linear", "ffn"],
                        choices=["linear", "ffn", "polynomial"])
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS),
                        choices=["em", "lbfgs", "gd"])
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs after the warm-up (median reported)")
    parser.add_argument("--repeats-large", type=int, default=3,
                        help="timed runs for n >= --large-n")
    parser.add_argument("--large-n", type=int, default=1_000_000)
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the cold-cache compile-time subprocesses")
    parser.add_argument("--quick", action="store_true",
                        help="n in {2000, 10000}, 2 repeats")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats, args.repeats_large = [2000, 10_000], 2, 1

    from bench_em import machine_info

    info = machine_info()
    print("machine:", json.dumps(info, default=str))
    result = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}}
    if not args.no_compile:
        comp = compile_times(args.experts, args.solvers)
        result["compile"] = comp
        print("compile (first tiny fit - second, fresh NUMBA_CACHE_DIR):")
        for key, (first, second) in comp["cold"].items():
            w_first, w_second = comp["warm"][key]
            print(f"  {key:14s} cold cache {first - second:6.2f} s   "
                  f"filled cache {w_first - w_second:6.2f} s   "
                  f"(steady tiny fit {second:.3f} s)")
    result["points"] = []
    for experts in args.experts:
        for n in args.n:
            result["points"].append(bench_point(experts, n, args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
