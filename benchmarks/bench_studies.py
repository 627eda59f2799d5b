"""The DeepSeekMoE convergence studies' fits: this tree against a baseline.

One question: how long do the fits of ``skmoe reproduce --full --only a b c
d`` take, per fit and per EM iteration, and do they reach the same
log-likelihood as the baseline's (by default main at ``c2bd438``)? Each
fit is the one :func:`skmoe.convergence.sample_size_study` runs for
replication ``rep`` at size ``n`` (same data, same near-true start, same
seeds: ``random_state=0`` as the reproduce command), started in a
subprocess per code tree (``PYTHONPATH``), the two trees alternating
experiment by experiment so that load from other processes hits both alike.

Per row: seconds of the fit (``time.thread_time``: the fits are serial,
so CPU time is what they cost; ``--clock wall`` for wall time), EM
iterations, ms per EM iteration and the log-likelihood reached, of both
trees, and ``dL = L_new - L_base``.

The full-grid wall time is an **extrapolation**: per experiment and size,
the measured seconds per EM iteration (interpolated log-log between the
measured sizes; below the smallest one the smallest one's per-iteration
cost, scaled by n) times the mean iterations of the committed full run
(``doc/reproducing/full/{a,b,c,d}.csv``), times 40 replications, summed
and divided by 2 workers. It leaves out the D4 reference fit of (d) at
n = 1e6 and the evaluation of the losses.

Usage::

    mkdir /tmp/skmoe-base && git archive c2bd438 | tar -x -C /tmp/skmoe-base
    python benchmarks/bench_studies.py --base /tmp/skmoe-base
    python benchmarks/bench_studies.py --base /tmp/skmoe-base --n 100000 \\
        --reps 1 --experiments c
    python benchmarks/bench_studies.py --profile c --n 100000   # cProfile, this tree
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FULL = ROOT / "doc" / "reproducing" / "full"


def one_fit(experiment, n, rep, clock):
    """The fit of replication ``rep`` at size ``n`` of a study (seed 0)."""
    import warnings

    from sklearn.base import clone

    from skmoe.convergence import deepseek_estimator, deepseek_truth, near_true_init
    from skmoe.datasets import sample_moe_regression

    truth = deepseek_truth(experiment)
    estimator = deepseek_estimator(experiment)
    # the seeds of skmoe.convergence._one_task with random_state=0 at the
    # first size index of a one-size grid
    seq = np.random.SeedSequence(0, spawn_key=(0, rep))
    data_seed, init_seed, fit_seed, _ = seq.generate_state(4)
    X, y = sample_moe_regression(truth, n, x_distribution="uniform",
                                 random_state=int(data_seed))
    est = clone(estimator).set_params(random_state=int(fit_seed), n_jobs=1)
    p = est.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = near_true_init(
            truth, p["n_experts"], n_shared_experts=p["n_shared_experts"],
            gating=p["gating"], experts=p["experts"],
            shared_experts=p["shared_experts"],
            shared_weight=p["shared_weight"], recipe="authors",
            noise=_study_noise(), n_samples=int(n),
            random_state=int(init_seed))
        est.set_params(init_params=start)
        timer = time.thread_time if clock == "cpu" else time.perf_counter
        t0 = timer()
        est.fit(X, y)
        seconds = timer() - t0
    return {"experiment": experiment, "n": int(n), "rep": int(rep),
            "seconds": seconds, "n_iter": int(est.n_iter_),
            "loglik": float(est.log_likelihood_),
            "history": [float(v) for v in est.history_]}


def _study_noise():
    import inspect

    from skmoe.convergence import sample_size_study

    return inspect.signature(sample_size_study).parameters["init_noise"].default


def worker(args):
    """Run the fits of one experiment in this process; print JSON lines."""
    one_fit(args.experiments[0], 200, 0, args.clock)  # compile / load cache
    for n in args.n:
        for rep in range(args.reps):
            row = one_fit(args.experiments[0], n, rep, args.clock)
            print(json.dumps(row), flush=True)


def run_tree(path, experiment, args):
    env = dict(os.environ, PYTHONPATH=str(path))
    env.setdefault("NUMBA_NUM_THREADS", "1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker",
           "--experiments", experiment, "--reps", str(args.reps),
           "--clock", args.clock, "--n", *map(str, args.n)]
    out = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True,
                         text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def full_iterations():
    """Mean EM iterations per size of the committed full run."""
    out = {}
    for e in "abcd":
        t = np.genfromtxt(FULL / f"{e}.csv", delimiter=",", names=True,
                          dtype=None, encoding=None)
        out[e] = {int(n): float(t["n_iter"][t["n"] == n].mean())
                  for n in np.unique(t["n"])}
    return out


def extrapolate(rows, key):
    """Full-grid seconds per experiment (see the module docstring)."""
    iters = full_iterations()
    total = {}
    for e in sorted({r["experiment"] for r in rows}):
        mine = [r for r in rows if r["experiment"] == e]
        ns = np.array(sorted({r["n"] for r in mine}), dtype=float)
        per_it = np.array([
            sum(r[key]["seconds"] for r in mine if r["n"] == n)
            / sum(r[key]["n_iter"] for r in mine if r["n"] == n) for n in ns])
        s = 0.0
        for n, it in iters[e].items():
            if n <= ns[0]:
                c = per_it[0] * n / ns[0]
            else:
                c = float(np.exp(np.interp(np.log(n), np.log(ns),
                                           np.log(per_it))))
            s += c * it * 40
        total[e] = s
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="/tmp/skmoe-base",
                    help="baseline tree (a checkout of main's c2bd438)")
    ap.add_argument("--new", default=str(ROOT), help="tree under test")
    ap.add_argument("--experiments", nargs="+", default=list("abcd"))
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", metavar="EXPERIMENT",
                    help="cProfile one fit of this tree at each --n")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.profile:
        import cProfile
        import pstats

        one_fit(args.profile, 200, 0, args.clock)
        for n in args.n:
            pr = cProfile.Profile()
            pr.enable()
            row = one_fit(args.profile, n, 0, args.clock)
            pr.disable()
            print(f"{args.profile} n={n}: {row['seconds']:.2f} s, "
                  f"{row['n_iter']} EM iterations, L={row['loglik']:.10e}")
            pstats.Stats(pr).sort_stats("tottime").print_stats(8)
        return
    print(f"load {os.getloadavg()}; clock {args.clock}; base {args.base}; "
          f"new {args.new}")
    rows = []
    hdr = (f"{'exp':>3} {'n':>7} {'rep':>3} | {'base s':>7} {'it':>4} "
           f"{'ms/it':>7} {'L_base':>17} | {'new s':>7} {'it':>4} "
           f"{'ms/it':>7} {'L_new':>17} | {'dL':>9} {'speed':>5}")
    print(hdr)
    for e in args.experiments:
        base = run_tree(args.base, e, args)
        new = run_tree(args.new, e, args)
        for b, w in zip(base, new, strict=True):
            rows.append({"experiment": e, "n": b["n"], "rep": b["rep"],
                         "base": b, "new": w})
            print(f"{e:>3} {b['n']:>7} {b['rep']:>3} | {b['seconds']:7.2f} "
                  f"{b['n_iter']:4d} {1e3 * b['seconds'] / b['n_iter']:7.1f} "
                  f"{b['loglik']:17.10e} | {w['seconds']:7.2f} "
                  f"{w['n_iter']:4d} {1e3 * w['seconds'] / w['n_iter']:7.1f} "
                  f"{w['loglik']:17.10e} | {w['loglik'] - b['loglik']:9.2e} "
                  f"{b['seconds'] / w['seconds']:5.2f}", flush=True)
        print(f"    load {os.getloadavg()[0]:.2f}", flush=True)
    for key in ("base", "new"):
        tot = extrapolate(rows, key)
        split = ", ".join(f"{e} {s / 60:.1f}" for e, s in tot.items())
        print(f"EXTRAPOLATED full grid ({key}): {sum(tot.values()) / 60:.1f} "
              f"CPU-min ({split}); /2 workers = "
              f"{sum(tot.values()) / 120:.1f} min wall on 2 idle cores")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
