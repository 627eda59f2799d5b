"""How skmoe's EM iteration time and memory grow with n.

Two questions, for softmax-gated linear experts at d=10, K=4 by default:

1. Is the time per EM iteration linear in n? For n in ``--n`` (default 1e4,
   1e5, 1e6, 1e7) it times ``--iters`` EM iterations from a common start
   (``tol=0``, so exactly that many), ``--repeats`` times, and reports the
   median seconds per iteration and seconds per iteration per 1e6 rows, with
   a least-squares fit ``t = a + b n`` and the slope ``log t / log n`` of the
   largest two sizes (1 for linear growth).
2. What is the peak memory of a fit at ``--mem-n`` (default 1e7)? In a fresh
   subprocess: the data (``X``, ``y``) are allocated and touched, the kernels
   are compiled on tiny data, the kernel's record of the peak resident set is
   reset (``/proc/self/clear_refs``, Linux), then
   ``MixtureOfExpertsRegressor(K, max_iter=--mem-iters).fit(X, y)`` runs; the
   peak resident set (``VmHWM``, which also sees Numba's allocations, unlike
   ``tracemalloc``) minus the resident set before the fit is the fit's peak
   memory increment. glibc's mmap threshold is fixed
   (``MALLOC_MMAP_THRESHOLD_``) so that freed arrays leave the resident set.
   The target of issue 7 (and of issue 16) is a peak of at most ``2 x
   size(X) + size(responsibilities)``, i.e. an increment of at most
   ``size(X) + n K 8`` bytes over the data.

3. The 2-thread speed-up: at ``--speedup-n`` (default 1e6), EM iterations
   with 1 and 2 Numba threads (one BLAS thread), alternated ``--repeats``
   times; medians.

The EM runs with one Numba thread and one BLAS thread unless ``--threads``.
Sizes are the command line's; the data are ``X ~ N(0, I)`` and ``y`` from a
fixed random linear mixture of experts (seed 0), generated chunk-wise so the
generator's temporaries stay small.

Usage::

    python benchmarks/bench_scaling.py                       # 1e4 .. 1e7 + memory
    python benchmarks/bench_scaling.py --n 10000 100000 --no-memory --speedup-n 0
    nice -n 10 python benchmarks/bench_scaling.py --repeats 3 --repeats-large 1

Results are written as JSON to ``benchmarks/results/bench_scaling.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DEFAULT_JSON = Path(__file__).parent / "results" / "bench_scaling.json"
SEED = 0


def make_data(n, d, K, seed=SEED, chunk=1_000_000):
    """``X ~ N(0, I)`` and ``y`` from a random softmax-gated linear MoE."""
    rng = np.random.default_rng(seed)
    gate = rng.standard_normal((K, d))
    gate_b = rng.standard_normal(K)
    experts = 2.0 * rng.standard_normal((K, d))
    experts_b = 2.0 * rng.standard_normal(K)
    X = np.empty((n, d))
    y = np.empty(n)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        Xc = rng.standard_normal((e - s, d))
        Z = Xc @ gate.T + gate_b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        k = (rng.random(e - s)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
        k = np.minimum(k, K - 1)
        mu = np.einsum("ij,ij->i", Xc, experts[k]) + experts_b[k]
        X[s:e] = Xc
        y[s:e] = mu + 0.5 * rng.standard_normal(e - s)
    return X, y


def start_params(X, y, K):
    """A common start: one EM iteration of a random start on 10 000 rows."""
    from skmoe import MixtureOfExpertsRegressor

    m = min(X.shape[0], 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MixtureOfExpertsRegressor(K, max_iter=1, random_state=0).fit(
            X[:m], y[:m])
    return est.params_


def time_iterations(X, y, params, iters, repeats):
    """Median seconds per EM iteration (initial E-step subtracted)."""
    from skmoe.solvers._em import _estep, run_em

    sw = np.ones(X.shape[0])
    per_iter = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _estep(X, y, params)
        t1 = time.perf_counter()
        run_em(X, y, sw, params, max_iter=iters, tol=0.0, var_floor=1e-12)
        t2 = time.perf_counter()
        per_iter.append((t2 - t1 - (t1 - t0)) / iters)
    return float(np.median(per_iter)), per_iter


_MEMORY_CODE = r"""
import json, resource, sys, time, warnings
import numpy as np
sys.path.insert(0, {bench_dir!r})
from bench_scaling import make_data
n, d, K, iters = {n}, {d}, {K}, {iters}
from skmoe import MixtureOfExpertsRegressor
Xs, ys = make_data(1000, d, K)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    MixtureOfExpertsRegressor(K, max_iter=2, random_state=0).fit(Xs, ys)
X, y = make_data(n, d, K)

def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])

peak_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# reset the kernel's record of the peak resident set (Linux >= 4.0), so that
# the peak read after the fit is the fit's, not the data generation's
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before_kb = status_kb("VmRSS")
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    est = MixtureOfExpertsRegressor(K, max_iter=iters, tol=0.0,
                                    random_state=0).fit(X, y)
t1 = time.perf_counter()
peak_kb = status_kb("VmHWM")
print(json.dumps(dict(rss_before_fit_MB=before_kb / 1024,
                      peak_before_fit_MB=peak_before_kb / 1024,
                      peak_MB=peak_kb / 1024, fit_s=t1 - t0,
                      n_iter=int(est.n_iter_))))
"""


def peak_memory(n, d, K, iters):
    code = _MEMORY_CODE.format(bench_dir=str(Path(__file__).parent), n=n, d=d, K=K,
                               iters=iters)
    # a fixed mmap threshold: every large array is mapped when allocated and
    # unmapped when freed, so the resident set counts the live arrays (glibc's
    # dynamic threshold keeps freed arrays of the warm-up and the data
    # generation resident in the heap, where the fit reuses them unseen)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, env=env)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    x_mb = n * d * 8 / 2**20
    resp_mb = n * K * 8 / 2**20
    rec["increment_MB"] = rec["peak_MB"] - rec["rss_before_fit_MB"]
    rec["X_MB"] = x_mb
    rec["resp_MB"] = resp_mb
    rec["target_increment_MB"] = x_mb + resp_mb
    rec["target_peak_MB"] = 2 * x_mb + resp_mb
    return rec


def thread_speedup(n, d, K, iters, repeats):
    """Seconds per EM iteration with 1 and 2 Numba threads, runs alternated."""
    from skmoe.utils._threads import numba_threads

    X, y = make_data(n, d, K)
    params = start_params(X, y, K)
    times = {1: [], 2: []}
    for _ in range(repeats):
        for n_threads in (1, 2):
            with numba_threads(n_threads):
                times[n_threads].append(
                    time_iterations(X, y, params, iters, 1)[0])
    med = {k: float(np.median(v)) for k, v in times.items()}
    return dict(n=n, runs=times, median_s_per_iter=med,
                speedup=med[1] / med[2], loadavg=os.getloadavg()[0])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+",
                   default=[10_000, 100_000, 1_000_000, 10_000_000])
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--K", type=int, default=4)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--repeats-large", type=int, default=1,
                   help="repeats for n >= 1e7 (heavy)")
    p.add_argument("--threads", type=int, default=1,
                   help="Numba and BLAS threads (default 1)")
    p.add_argument("--mem-n", type=int, default=10_000_000)
    p.add_argument("--mem-iters", type=int, default=3)
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--speedup-n", type=int, default=1_000_000,
                   help="n of the 1 vs 2 Numba threads comparison (0: skip)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)

    import numba
    from threadpoolctl import threadpool_limits

    from skmoe.utils._threads import numba_threads

    print(f"nproc={os.cpu_count()} loadavg={os.getloadavg()} numba "
          f"threads={args.threads} BLAS threads={args.threads} d={args.d} "
          f"K={args.K} iters={args.iters} repeats={args.repeats} "
          f"numba {numba.__version__}")
    rows = []
    with threadpool_limits(args.threads, user_api="blas"), numba_threads(
            args.threads):
        for n in args.n:
            X, y = make_data(n, args.d, args.K)
            params = start_params(X, y, args.K)
            time_iterations(X[:1000], y[:1000], params, 1, 1)  # compile
            repeats = args.repeats_large if n >= 10_000_000 else args.repeats
            med, runs = time_iterations(X, y, params, args.iters, repeats)
            rows.append(dict(n=n, s_per_iter=med, runs=runs,
                             s_per_iter_per_1e6=med / n * 1e6,
                             loadavg=os.getloadavg()[0]))
            print(f"n={n:>9}  s/iter={med:9.4f}  s/iter per 1e6 rows="
                  f"{med / n * 1e6:8.4f}  (runs {np.round(runs, 4).tolist()}, "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
            del X, y
    if len(rows) >= 2:
        n_arr = np.array([r["n"] for r in rows], float)
        t_arr = np.array([r["s_per_iter"] for r in rows])
        b, a = np.polyfit(n_arr, t_arr, 1)
        slope = np.log(t_arr[-1] / t_arr[-2]) / np.log(n_arr[-1] / n_arr[-2])
        print(f"linear fit t = {a:.3g} + {b * 1e6:.4f} s per 1e6 rows; "
              f"log-log slope of the two largest n: {slope:.3f}")
        fit = dict(intercept_s=a, s_per_1e6=b * 1e6, loglog_slope_top2=slope)
    else:
        fit = None
    speedup = None
    if args.speedup_n:
        with threadpool_limits(1, user_api="blas"):
            speedup = thread_speedup(args.speedup_n, args.d, args.K, args.iters,
                                     args.repeats)
        m = speedup["median_s_per_iter"]
        print(f"n={args.speedup_n}: s/iter with 1 Numba thread {m[1]:.4f}, with 2 "
              f"{m[2]:.4f}: speed-up {speedup['speedup']:.2f} (runs alternated, "
              f"medians; load {speedup['loadavg']:.1f})", flush=True)
    mem = None
    if not args.no_memory:
        mem = peak_memory(args.mem_n, args.d, args.K, args.mem_iters)
        print(f"peak memory of a fit at n={args.mem_n}, d={args.d}, K={args.K}: "
              f"RSS before fit {mem['rss_before_fit_MB']:.0f} MB, peak "
              f"{mem['peak_MB']:.0f} MB, increment {mem['increment_MB']:.0f} MB "
              f"(X {mem['X_MB']:.0f} MB, responsibilities {mem['resp_MB']:.0f} MB;"
              f" target increment <= X + resp = "
              f"{mem['target_increment_MB']:.0f} MB)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(dict(benchmark="bench_scaling", argv=sys.argv[1:],
                                         rows=rows, fit=fit, speedup=speedup,
                                         memory=mem),
                                    indent=1))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
