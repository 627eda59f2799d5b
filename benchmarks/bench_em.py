"""skmoe's EM against a plain vectorised NumPy/SciPy EM.

One question: how fast is one skmoe EM iteration (Numba kernels + damped Newton
gate update), compared with the EM a NumPy user would write (log-space E-step
with ``scipy.special.logsumexp``, weighted normal equations per expert, gate
M-step by ``scipy.optimize.minimize(method="L-BFGS-B")``), and do both reach
the same log-likelihood?

Model: Gaussian mixture of experts, softmax gate (last expert's gate row fixed
at zero), linear experts with intercept,
``p(y|x) = sum_k softmax_k(x W^T + b) N(y | x B_k + c_k, nu_k)``.

For every ``(n, d, K)`` of the grid the data come from
``skmoe.datasets.make_moe_regression(n, d, K, random_state=seed)``; the common
start is ``MixtureOfExpertsRegressor(K, max_iter=1, random_state=0).params_``
and both implementations run from it. Reported separately:

- first-call (compile) time of skmoe: in this process (whatever the on-disk
  Numba cache holds), and in fresh subprocesses with ``NUMBA_CACHE_DIR`` set
  to a new empty directory (cold cache), then again with that cache filled;
- steady state: seconds per EM iteration, the median of ``--repeats`` runs of
  ``--iters`` iterations after one warm-up run (each run includes the initial
  E-step, for both implementations);
- accuracy: max |difference| of the two log-likelihood trajectories from the
  same start, and the time, iterations and final log-likelihood to
  convergence (``tol=1e-6``, skmoe's stopping rule used for both);
- a breakdown of one skmoe run by kernel (runtime wrappers, skmoe unchanged)
  and of one reference run by step.

The same skmoe EM also runs **unfused** (``run_em(fused=False)``: the
families' own E-step and M-step kernels, six passes over the data per
iteration instead of the fused loop's two), alternated with the other two:
the ``un/fu`` column is the speed-up of the fused loop, and ``rel unf`` the
largest relative difference of the two trajectories (round-off).

Two diagnostics separate "different algorithm" from "different answer": the
reference rerun with a tight L-BFGS-B (``ftol=1e-15, gtol=1e-12``), and skmoe
rerun with its gate Newton loop uncapped (the class attribute
``SoftmaxGating._max_newton_iter`` raised at runtime and restored). These two
should agree to round-off; skmoe's default capped Newton gate update is a
generalised EM, so its trajectory differs from exact EM in the first
iterations and meets it again at the fixed point.

Both sides run with one BLAS thread by default (``--blas-threads``): skmoe's
kernels are serial, and on a 2-core machine numpy's and scipy's two OpenBLAS
pools made every L-BFGS-B call of the reference several times slower.

Usage::

    python benchmarks/bench_em.py                       # full grid
    python benchmarks/bench_em.py --quick               # tiny grid, seconds
    python benchmarks/bench_em.py --n 10000 --d 2 --K 2 4 --repeats 7
    python benchmarks/bench_em.py --skip-converge-large # no convergence at 1e6
    python benchmarks/bench_em.py --n 1000000 --converge-only --no-cold
    python benchmarks/bench_em.py --n 1000000 --d 10 --K 4 --n-jobs 2  # 2 Numba threads

Results are written as JSON to ``benchmarks/results/bench_em.json`` (or
``--json PATH``).
"""

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "bench_em.json"
SEED = 0
TOL = 1e-6
REG_VAR = 1e-6  # skmoe's default variance floor, relative to Var(y)
#: L-BFGS-B options of the "tight" reference trajectory (diagnostic only)
TIGHT_LBFGS = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 1000}


# --------------------------------------------------------------------------
# NumPy / SciPy reference EM
# --------------------------------------------------------------------------
class ReferenceEM:
    """Plain vectorised EM for the softmax-gated linear Gaussian MoE.

    Parameters are kept as ``gate`` (K, d+1) with the last row zero (slopes,
    then intercept), ``beta`` (K, d+1) expert slopes then intercept, and
    ``var`` (K,). ``F = [X, 1]`` is built once.
    """

    def __init__(self, X, y, var_floor, lbfgs_options=None):
        self.X = X
        self.y = y
        self.F = np.hstack([X, np.ones((X.shape[0], 1))])
        self.var_floor = var_floor
        self.lbfgs_options = dict(lbfgs_options or {})
        self.timers = {"estep": 0.0, "experts": 0.0, "gate": 0.0}
        self.gate_nfev = []

    # E-step ---------------------------------------------------------------
    def estep(self, gate, beta, var):
        F, y = self.F, self.y
        Z = F @ gate.T
        log_gate = Z - logsumexp(Z, axis=1, keepdims=True)
        means = F @ beta.T
        a = (log_gate - 0.5 * np.log(2.0 * np.pi * var)
             - 0.5 * (y[:, None] - means) ** 2 / var)
        loglik = logsumexp(a, axis=1)
        resp = np.exp(a - loglik[:, None])
        return resp, float(loglik.sum())

    # M-step: experts and variances ---------------------------------------
    def mstep_experts(self, R, beta, var):
        F, y = self.F, self.y
        sums = R.sum(axis=0)
        threshold = 1e-10 * sums.sum()
        new_beta = beta.copy()
        for k in range(R.shape[1]):
            if sums[k] <= threshold:
                continue
            Fw = F * R[:, k:k + 1]
            new_beta[k] = np.linalg.lstsq(Fw.T @ F, Fw.T @ y, rcond=None)[0]
        means = F @ new_beta.T
        rss = (R * (y[:, None] - means) ** 2).sum(axis=0)
        empty = sums <= threshold
        new_var = np.where(empty, var, rss / np.where(empty, 1.0, sums))
        return new_beta, np.maximum(new_var, self.var_floor)

    # M-step: gate -----------------------------------------------------------
    def _gate_objective(self, theta, R, w, total):
        F = self.F
        K = R.shape[1]
        p = F.shape[1]
        free = theta.reshape(K - 1, p)
        Z = np.zeros((F.shape[0], K))
        Z[:, :K - 1] = F @ free.T
        logP = Z - logsumexp(Z, axis=1, keepdims=True)
        value = -float(np.sum(R * logP)) / total
        G = R[:, :K - 1] - w[:, None] * np.exp(logP[:, :K - 1])
        grad = -(G.T @ F).ravel() / total
        return value, grad

    def mstep_gate(self, R, gate):
        K = R.shape[1]
        w = R.sum(axis=1)
        total = float(w.sum())
        res = minimize(
            self._gate_objective, gate[:-1].ravel(), args=(R, w, total),
            jac=True, method="L-BFGS-B", options=self.lbfgs_options,
        )
        self.gate_nfev.append(int(res.nfev))
        new = np.zeros_like(gate)
        new[:-1] = res.x.reshape(K - 1, -1)
        return new

    # EM loop ----------------------------------------------------------------
    def run(self, start, max_iter, tol):
        """EM from ``start`` (arrays); same stopping rule as skmoe.

        Returns
        -------
        history : list of float
            Total log-likelihood at the start and after each iteration.
        converged : bool
        params : tuple of ndarray
            ``(gate, beta, var)``.
        """
        gate, beta, var = (a.copy() for a in start)
        var = np.maximum(var, self.var_floor)
        W = float(self.X.shape[0])
        t0 = time.perf_counter()
        resp, current = self.estep(gate, beta, var)
        self.timers["estep"] += time.perf_counter() - t0
        history = [current]
        converged = False
        for _ in range(max_iter):
            t0 = time.perf_counter()
            beta, var = self.mstep_experts(resp, beta, var)
            t1 = time.perf_counter()
            gate = self.mstep_gate(resp, gate)
            t2 = time.perf_counter()
            resp, new = self.estep(gate, beta, var)
            t3 = time.perf_counter()
            self.timers["experts"] += t1 - t0
            self.timers["gate"] += t2 - t1
            self.timers["estep"] += t3 - t2
            history.append(new)
            previous, current = current, new
            # skmoe's rule (strict, so tol=0 runs max_iter iterations)
            if abs(current - previous) < tol * max(abs(previous), W):
                converged = True
                break
        return history, converged, (gate, beta, var)


def start_arrays(params):
    """``(gate, beta, var)`` arrays of an ``MoEParams`` for the reference."""
    gate = np.hstack([params.gate_coef, params.gate_intercept[:, None]])
    gate = gate - gate[-1]  # last row the reference (already zero in skmoe)
    return gate, params.expert_params.copy(), params.variance.copy()


def arrays_to_params(arrays, d):
    from skmoe import MoEParams

    gate, beta, var = arrays
    return MoEParams(gate_coef=gate[:, :d], gate_intercept=gate[:, d],
                     expert_params=beta, variance=var)


# --------------------------------------------------------------------------
# skmoe side
# --------------------------------------------------------------------------
#: Numba threads of skmoe's fits (``--n-jobs``; the estimator's ``n_jobs``)
N_JOBS = [None]


def skmoe_fit(X, y, K, start, max_iter, tol):
    from skmoe import MixtureOfExpertsRegressor

    est = MixtureOfExpertsRegressor(n_experts=K, init_params=start,
                                    max_iter=max_iter, tol=tol, reg_var=REG_VAR,
                                    random_state=SEED, n_jobs=N_JOBS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est


@contextlib.contextmanager
def kernel_timers():
    """Wrap skmoe's kernels (module attributes only) with timers.

    Yields a dict ``name -> [calls, seconds]``. Nothing in skmoe is edited; the
    original functions are restored on exit.
    """
    import skmoe._kernels._fused as fu
    import skmoe._kernels._gaussian as kg
    import skmoe._kernels._linear as el
    import skmoe._kernels._logspace as kl
    import skmoe._kernels._softmax as ks
    import skmoe.gating._newton as gn
    import skmoe.solvers._em as em

    stats = {}

    def wrap(name, fn):
        def timed(*args):
            t0 = time.perf_counter()
            out = fn(*args)
            entry = stats.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - t0
            return out
        return timed

    # the families call the kernels as attributes of their kernel modules
    # (skmoe._kernels.<module>.<kernel>): patching the module patches them all
    def gate_objective_of(gate_obj):
        def gate_objective(X, coef, intercept, R, compute_hessian):
            name = ("gate_objective+hessian" if compute_hessian
                    else "gate_objective(line search)")
            return wrap(name, gate_obj)(X, coef, intercept, R, compute_hessian)
        return gate_objective

    targets = [
        (em, "gaussian_estep"), (kg, "gaussian_estep"),
        (kg, "gaussian_estep_linear"), (kl, "log_softmax_rows"),
        (el, "linear_expert_suffstats"), (kg, "weighted_residual_ss"),
        (gn, "cho_factor"), (gn, "cho_solve"),
        (fu, "fused_estep_statistics"),
    ]
    patches = [(mod, name, wrap(name, getattr(mod, name)))
               for mod, name in targets if hasattr(mod, name)]
    # the parallel twins (n_jobs > 1, large n) under the serial kernels' names
    patches += [(mod, f"{name}_parallel",
                 wrap(name, getattr(mod, f"{name}_parallel")))
                for mod, name in targets if hasattr(mod, f"{name}_parallel")]
    patches += [(ks, name, gate_objective_of(getattr(ks, name)))
                for name in ("softmax_gate_objective",
                             "softmax_gate_objective_parallel")]
    originals = [(mod, name, getattr(mod, name)) for mod, name, _ in patches]
    try:
        for mod, name, fn in patches:
            setattr(mod, name, fn)
        yield stats
    finally:
        for mod, name, fn in originals:
            setattr(mod, name, fn)


@contextlib.contextmanager
def unfused():
    """Run skmoe's EM by the families' own methods (``run_em(fused=False)``).

    The baseline of the fused passes: the same steps, computed by the
    separate E-step, expert, variance and gate kernels.
    """
    import skmoe.solvers._em as em

    # run_em takes the fused passes when _fusable gives no reason (at n >=
    # FUSED_FROM_N, the sizes of this benchmark's fused figures)
    original = em._fusable
    em._fusable = lambda params: "benchmark: unfused"
    try:
        yield
    finally:
        em._fusable = original


@contextlib.contextmanager
def exact_gate_newton(max_iter=200):
    """Let skmoe's gate Newton loop run to its step tolerance (diagnostic)."""
    from skmoe.gating._softmax import SoftmaxGating

    had = "_max_newton_iter" in vars(SoftmaxGating)
    old = getattr(SoftmaxGating, "_max_newton_iter", None)
    SoftmaxGating._max_newton_iter = max_iter
    try:
        yield
    finally:
        if had:
            SoftmaxGating._max_newton_iter = old
        else:
            del SoftmaxGating._max_newton_iter


# --------------------------------------------------------------------------
# compile time and machine info
# --------------------------------------------------------------------------
_FIRST_FIT_CODE = """
import json, time, warnings
t0 = time.perf_counter()
import skmoe
from skmoe.datasets import make_moe_regression
t1 = time.perf_counter()
X, y, _ = make_moe_regression(200, 2, 2, random_state=0)
warnings.simplefilter("ignore")
est = skmoe.MixtureOfExpertsRegressor(2, max_iter=5, tol=0.0, random_state=0)
t2 = time.perf_counter(); est.fit(X, y); t3 = time.perf_counter()
est.fit(X, y); t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_fit_s": t3 - t2,
                  "second_fit_s": t4 - t3}))
"""


def first_fit_subprocess(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", _FIRST_FIT_CODE], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_fit_in_process():
    """Import skmoe and time its first and second fit on tiny data."""
    t0 = time.perf_counter()
    import skmoe
    from skmoe.datasets import make_moe_regression
    t1 = time.perf_counter()
    X, y, _ = make_moe_regression(200, 2, 2, random_state=0)
    est = skmoe.MixtureOfExpertsRegressor(2, max_iter=5, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t2 = time.perf_counter()
        est.fit(X, y)
        t3 = time.perf_counter()
        est.fit(X, y)
        t4 = time.perf_counter()
    return {"import_s": t1 - t0, "first_fit_s": t3 - t2, "second_fit_s": t4 - t3}


_THREADING_CODE = """
import numba
from numba import njit, prange
@njit(parallel=True)
def f(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i]
    return s
import numpy as np
f(np.ones(10))
print(numba.threading_layer())
"""


def machine_info():
    import numba

    try:
        layer = subprocess.run(
            [sys.executable, "-c", _THREADING_CODE], capture_output=True,
            text=True, check=True, timeout=300,
        ).stdout.strip().splitlines()[-1]
    except Exception as exc:  # pragma: no cover - informational only
        layer = f"unavailable ({type(exc).__name__})"
    import skmoe

    blas = "unknown"
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} thr)"
            for i in threadpool_info()
        )
    commit = "unknown"
    with contextlib.suppress(Exception):
        root = Path(skmoe.__file__).resolve().parent.parent
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short",
                                 "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--", "skmoe"], capture_output=True, text=True,
                               check=True).stdout.strip()
        commit += " (skmoe/ modified)" if dirty else ""
    return {
        "skmoe_commit": commit,
        "nproc": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "numba": numba.__version__,
        "numba_threading_layer_config": numba.config.THREADING_LAYER,
        "numba_threading_layer_loaded": layer,
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(default __pycache__)"),
        "blas": blas,
        "skmoe": skmoe.__version__,
        "loadavg_1_5_15": os.getloadavg(),
    }


# --------------------------------------------------------------------------
# one grid point
# --------------------------------------------------------------------------
def timed(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def steady_state(rec, X, y, K, start, ref_start, var_floor, lbfgs, iters, args):
    """Trajectories, per-iteration timings and profiles of one grid point."""
    # trajectories from the same start (the warm-up runs) ---------------
    # With tol=0 a run stops early only if the log-likelihood stops changing
    # exactly; trajectories are compared on their common length and times are
    # divided by the iterations actually run.
    est = skmoe_fit(X, y, K, start, iters, 0.0)
    sk_hist = np.asarray(est.history_)
    ref = ReferenceEM(X, y, var_floor, lbfgs)
    ref_hist = np.asarray(ref.run(ref_start, iters, 0.0)[0])
    m = min(len(sk_hist), len(ref_hist))
    diff = np.abs(sk_hist[:m] - ref_hist[:m])
    rec["iters_skmoe"] = len(sk_hist) - 1
    rec["iters_reference"] = len(ref_hist) - 1
    rec["loglik_skmoe"] = sk_hist.tolist()
    rec["loglik_reference"] = ref_hist.tolist()
    rec["max_abs_dL_first3"] = float(diff[:4].max())
    rec["max_abs_dL"] = float(diff.max())
    rec["max_rel_dL"] = float((diff / np.abs(ref_hist[:m])).max())
    rec["monotone_skmoe"] = bool(
        np.all(np.diff(sk_hist) >= -1e-9 * np.abs(sk_hist[1:])))
    rec["monotone_reference"] = bool(
        np.all(np.diff(ref_hist) >= -1e-9 * np.abs(ref_hist[1:])))

    # same start, gate M-step solved tightly: isolates the L-BFGS-B tolerance
    rec["max_abs_dL_tight"] = float("nan")
    if not args.no_tight:
        tight = ReferenceEM(X, y, var_floor, TIGHT_LBFGS)
        tight_hist = np.asarray(tight.run(ref_start, iters, 0.0)[0])
        mt = min(len(sk_hist), len(tight_hist))
        rec["loglik_reference_tight"] = tight_hist.tolist()
        rec["max_abs_dL_tight"] = float(
            np.abs(sk_hist[:mt] - tight_hist[:mt]).max())

    # skmoe with its gate Newton loop allowed to converge (class attribute
    # raised at runtime, restored after): checks that both implement the
    # same EM, independently of skmoe's deliberately inexact gate update
    rec["max_abs_dL_exact_gate"] = float("nan")
    if not args.no_tight:
        with exact_gate_newton():
            exact_hist = np.asarray(skmoe_fit(X, y, K, start, iters, 0.0).history_)
        me = min(len(exact_hist), len(tight_hist))
        rec["loglik_skmoe_exact_gate"] = exact_hist.tolist()
        rec["max_abs_dL_exact_gate"] = float(
            np.abs(exact_hist[:me] - tight_hist[:me]).max())

    # steady state: skmoe and reference runs alternate, so that load from
    # other processes hits both alike -------------------------------------
    def sk_run():
        t0 = time.perf_counter()
        n_iter = skmoe_fit(X, y, K, start, iters, 0.0).n_iter_
        return time.perf_counter() - t0, n_iter

    def ref_run():
        t0 = time.perf_counter()
        hist = ReferenceEM(X, y, var_floor, lbfgs).run(ref_start, iters, 0.0)[0]
        return time.perf_counter() - t0, len(hist) - 1

    def unfused_run():
        with unfused():
            return sk_run()

    with unfused():
        unfused_hist = np.asarray(skmoe_fit(X, y, K, start, iters, 0.0).history_)
    mu = min(len(sk_hist), len(unfused_hist))
    rec["max_rel_dL_unfused"] = float(
        (np.abs(sk_hist[:mu] - unfused_hist[:mu]) / np.abs(unfused_hist[:mu])).max())

    sk_runs, ref_runs, unfused_runs = [], [], []
    rec["loadavg_before"] = os.getloadavg()[0]
    for _ in range(args.repeats):
        sk_runs.append(sk_run())
        ref_runs.append(ref_run())
        unfused_runs.append(unfused_run())
    rec["loadavg_after"] = os.getloadavg()[0]
    rec["skmoe_s_per_iter"] = float(np.median([t / k for t, k in sk_runs]))
    rec["reference_s_per_iter"] = float(np.median([t / k for t, k in ref_runs]))
    rec["unfused_s_per_iter"] = float(np.median([t / k for t, k in unfused_runs]))
    rec["skmoe_runs"] = [{"s": t, "iters": k} for t, k in sk_runs]
    rec["reference_runs"] = [{"s": t, "iters": k} for t, k in ref_runs]
    rec["unfused_runs"] = [{"s": t, "iters": k} for t, k in unfused_runs]
    rec["ratio_per_iter"] = rec["reference_s_per_iter"] / rec["skmoe_s_per_iter"]
    rec["ratio_unfused"] = rec["unfused_s_per_iter"] / rec["skmoe_s_per_iter"]

    # breakdowns (separate, instrumented runs) ---------------------------
    with kernel_timers() as stats:
        t0 = time.perf_counter()
        n_iter = skmoe_fit(X, y, K, start, iters, 0.0).n_iter_
        total = time.perf_counter() - t0
    rec["skmoe_profile"] = {
        "total_s": total, "iters": n_iter,
        "kernels": {k: {"calls": c, "s": s} for k, (c, s) in stats.items()},
        "other_s": total - sum(s for _, s in stats.values()),
    }
    ref = ReferenceEM(X, y, var_floor, lbfgs)
    t0 = time.perf_counter()
    hist = ref.run(ref_start, iters, 0.0)[0]
    total = time.perf_counter() - t0
    rec["reference_profile"] = {
        "total_s": total, "iters": len(hist) - 1, "steps_s": dict(ref.timers),
        "gate_nfev": ref.gate_nfev,
    }



def bench_point(n, d, K, args):
    from skmoe.datasets import make_moe_regression
    from skmoe.metrics import parameter_error

    large = n >= args.large_n
    iters = args.iters_large if large else args.iters
    X, y, truth = make_moe_regression(n_samples=n, n_features=d, n_experts=K,
                                      random_state=SEED)
    start = skmoe_fit(X, y, K, "random", 1, 0.0).params_
    var_y = float(np.var(y))
    var_floor = REG_VAR * (var_y if var_y > 0 else 1.0)
    lbfgs = {"ftol": args.lbfgs_ftol, "gtol": args.lbfgs_gtol}
    ref_start = start_arrays(start)
    rec = {"n": n, "d": d, "K": K, "iters": iters, "repeats": args.repeats}

    if not args.converge_only:
        steady_state(rec, X, y, K, start, ref_start, var_floor, lbfgs, iters,
                     args)

    # time to convergence -------------------------------------------------
    if large and args.skip_converge_large:
        rec["converge"] = None
        return rec
    conv = {}
    sk_t, est = timed(lambda: skmoe_fit(X, y, K, start, args.max_iter, TOL),
                      args.conv_repeats)
    err = parameter_error(est.params_, truth)
    conv["skmoe"] = {
        "time_s": float(np.median(sk_t)), "n_iter": int(est.n_iter_),
        "converged": bool(est.converged_),
        "loglik": float(est.log_likelihood_),
        "max_expert_coef_err": float(err["expert_coef"].max()),
    }
    runs = []

    def ref_conv():
        r = ReferenceEM(X, y, var_floor, lbfgs)
        runs.append(r)
        return r.run(ref_start, args.max_iter, TOL)

    ref_t, (hist, converged, arrays) = timed(ref_conv, args.conv_repeats)
    ref_params = arrays_to_params(arrays, d)
    err = parameter_error(ref_params, truth)
    conv["reference"] = {
        "time_s": float(np.median(ref_t)), "n_iter": len(hist) - 1,
        "converged": bool(converged), "loglik": float(hist[-1]),
        "max_expert_coef_err": float(err["expert_coef"].max()),
        "mean_gate_nfev": float(np.mean(runs[-1].gate_nfev)),
    }
    conv["ratio_time"] = conv["reference"]["time_s"] / conv["skmoe"]["time_s"]
    conv["dL_final"] = conv["skmoe"]["loglik"] - conv["reference"]["loglik"]
    rec["converge"] = conv
    return rec


# --------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------
def _fmt_n(n):
    e = int(round(np.log10(n)))
    return f"1e{e}" if 10 ** e == n else str(n)


def print_compile(compile_info):
    print("\nFirst-call (compile) time of skmoe, tiny data (n=200, d=2, K=2, 5 iters)")
    print(f"  {'where':<50}{'import':>9}{'1st fit':>10}{'2nd fit':>10}")
    for label, c in compile_info.items():
        print(f"  {label:<50}{c['import_s']:9.3f}{c['first_fit_s']:10.3f}"
              f"{c['second_fit_s']:10.4f}")
    print("  (seconds; 1st fit - 2nd fit = compile or cache-load time)")


def print_row_header():
    print("\nSteady state: seconds per EM iteration, median of repeats (runs "
          "include the initial E-step);\nmax|dL| = max |L_skmoe - L_ref| of the "
          "total log-likelihood over iterations 0..3 and 0..it,\nmax rel = the same"
          " relative to |L|, tight ref = max|dL| against a reference whose L-BFGS-B"
          " runs\nto ftol=1e-15, gtol=1e-12; exact gt = max|dL| between that tight "
          "reference and skmoe with its\ngate Newton loop uncapped (diagnostic); "
          "load = 1-min load average after the timed runs;\nunfused = skmoe's "
          "same EM computed by its separate kernels (run_em(fused=False)), "
          "un/fu = its\ntime over the fused one's, rel unf = max relative "
          "difference of the two trajectories")
    print(f"{'n':>5}{'d':>4}{'K':>3}{'it sk/ref':>10}{'skmoe s/it':>12}{'ref s/it':>11}"
          f"{'ref/sk':>8}{'max|dL| it<=3':>15}{'max|dL| all':>13}{'max rel':>10}"
          f"{'tight ref':>11}{'exact gt':>10}{'unfused':>9}{'un/fu':>7}"
          f"{'rel unf':>9}{'load':>6}")


def print_row(r):
    if "skmoe_s_per_iter" not in r:
        print(f"{_fmt_n(r['n']):>5}{r['d']:>4}{r['K']:>3}  (--converge-only)")
        return
    its = f"{r['iters_skmoe']}/{r['iters_reference']}"
    print(f"{_fmt_n(r['n']):>5}{r['d']:>4}{r['K']:>3}{its:>10}"
          f"{r['skmoe_s_per_iter']:12.4f}{r['reference_s_per_iter']:11.4f}"
          f"{r['ratio_per_iter']:8.2f}{r['max_abs_dL_first3']:15.3e}"
          f"{r['max_abs_dL']:13.3e}{r['max_rel_dL']:10.1e}"
          f"{r['max_abs_dL_tight']:11.2e}{r['max_abs_dL_exact_gate']:10.1e}"
          f"{r['unfused_s_per_iter']:9.4f}{r['ratio_unfused']:7.2f}"
          f"{r['max_rel_dL_unfused']:9.1e}{r['loadavg_after']:6.1f}", flush=True)


def print_converge(results):
    print(f"\nTime to convergence (tol={TOL:g}, skmoe's rule for both); L/n = final "
          "mean log-likelihood; err = max expert-slope error vs truth")
    print(f"{'n':>5}{'d':>4}{'K':>3} | {'skmoe it':>8}{'s':>9}{'L/n':>10}{'err':>8}"
          f" | {'ref it':>6}{'s':>9}{'L/n':>10}{'err':>8}{'nfev':>6}"
          f" | {'ref/sk':>7}{'L_sk-L_ref':>12}")
    for r in results:
        c = r["converge"]
        head = f"{_fmt_n(r['n']):>5}{r['d']:>4}{r['K']:>3} | "
        if c is None:
            print(head + "skipped (--skip-converge-large)")
            continue
        s, f = c["skmoe"], c["reference"]
        n = r["n"]
        s_mark = " " if s["converged"] else "*"
        f_mark = " " if f["converged"] else "*"
        print(head
              + f"{s['n_iter']:>7}{s_mark}{s['time_s']:9.3f}{s['loglik'] / n:10.5f}"
              + f"{s['max_expert_coef_err']:8.4f}"
              + f" | {f['n_iter']:>5}{f_mark}{f['time_s']:9.3f}{f['loglik'] / n:10.5f}"
              + f"{f['max_expert_coef_err']:8.4f}{f['mean_gate_nfev']:6.1f}"
              + f" | {c['ratio_time']:7.2f}{c['dL_final']:12.3e}")
    print("  (* = not converged within --max-iter; nfev = mean L-BFGS-B evaluations"
          " per gate M-step)")


def print_profiles(results):
    print("\nWhere the time goes (one instrumented run of `it` iterations each; "
          "milliseconds per iteration)")
    print(f"{'n':>5}{'d':>4}{'K':>3} | skmoe: {'passA':>7}{'passB':>7}{'estep':>7}"
          f"{'logsm':>7}{'suffst':>7}"
          f"{'rss':>7}{'hess':>7}{'#H/it':>6}{'lsrch':>7}{'chol':>7}{'other':>7}"
          f" | ref: {'estep':>7}{'expert':>7}{'gate':>7}{'nfev':>6}")
    for r in results:
        if "skmoe_profile" not in r:
            continue
        p = r["skmoe_profile"]
        it = p["iters"]
        ks = p["kernels"]

        def g(name, ks=ks, it=it):
            return 1e3 * ks.get(name, {"s": 0.0})["s"] / it

        nh = ks.get("gate_objective+hessian", {"calls": 0})["calls"] / it
        q = r["reference_profile"]
        st = q["steps_s"]
        print(f"{_fmt_n(r['n']):>5}{r['d']:>4}{r['K']:>3} |        "
              f"{g('fused_estep_statistics'):7.1f}{0.0:7.1f}"
              f"{g('gaussian_estep') + g('gaussian_estep_linear'):7.1f}"
              f"{g('log_softmax_rows'):7.1f}"
              f"{g('linear_expert_suffstats'):7.1f}{g('weighted_residual_ss'):7.1f}"
              f"{g('gate_objective+hessian'):7.1f}{nh:6.1f}"
              f"{g('gate_objective(line search)'):7.1f}"
              f"{g('cho_factor') + g('cho_solve'):7.1f}{1e3 * p['other_s'] / it:7.1f}"
              f" |      {1e3 * st['estep'] / it:7.1f}{1e3 * st['experts'] / it:7.1f}"
              f"{1e3 * st['gate'] / it:7.1f}{np.mean(q['gate_nfev']):6.1f}")
    print("  skmoe columns: passA = fused_estep_statistics (E-step, all "
          "statistics and the gate's line-search test),\n  passB = "
          "none in the one-pass fused EM (0.0); lsrch also counts halved gate steps; "
          "for models the fused\n  EM does not cover:\n"
          "  gaussian_estep (or the fused gaussian_estep_linear),"
          " log_softmax_rows, linear_expert_suffstats,"
          " weighted_residual_ss,\n  softmax_gate_objective with Hessian (and calls per"
          " iteration), without Hessian (line search),\n  chol = scipy cho_factor +"
          " cho_solve, other = NumPy/Python outside the kernels (X @ W.T logits,"
          "\n  expert means, design matrix, lstsq, validation).")


# --------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--d", type=int, nargs="+", default=[2, 10])
    p.add_argument("--K", type=int, nargs="+", default=[2, 4])
    p.add_argument("--repeats", type=int, default=5,
                   help="timed runs after the warm-up (median reported); >= 5")
    p.add_argument("--iters", type=int, default=10,
                   help="EM iterations per timed run (n < --large-n)")
    p.add_argument("--iters-large", type=int, default=5,
                   help="EM iterations per timed run for n >= --large-n")
    p.add_argument("--large-n", type=int, default=1_000_000)
    p.add_argument("--max-iter", type=int, default=300,
                   help="iteration cap of the time-to-convergence runs")
    p.add_argument("--conv-repeats", type=int, default=1,
                   help="timed runs to convergence (median reported)")
    p.add_argument("--converge-only", action="store_true",
                   help="only the time-to-convergence runs (e.g. for n=1e6 after a "
                        "--skip-converge-large grid)")
    p.add_argument("--skip-converge-large", action="store_true",
                   help="skip time-to-convergence for n >= --large-n")
    p.add_argument("--lbfgs-ftol", type=float, default=2.220446049250313e-09,
                   help="reference gate M-step L-BFGS-B ftol (scipy default); "
                        "the objective is the mean weighted log-likelihood")
    p.add_argument("--lbfgs-gtol", type=float, default=1e-5,
                   help="reference gate M-step L-BFGS-B gtol (scipy default)")
    p.add_argument("--no-tight", action="store_true",
                   help="skip the diagnostic trajectory with a tight L-BFGS-B")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads (threadpoolctl) for both implementations; "
                        "0 leaves the default. skmoe's kernels are serial; two "
                        "OpenBLAS pools (numpy's and scipy's) on 2 busy cores "
                        "slow the reference down")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="Numba threads of skmoe (the estimator's n_jobs; default "
                        "None = 1)")
    p.add_argument("--no-cold", action="store_true",
                   help="skip the fresh-subprocess compile measurements")
    p.add_argument("--quick", action="store_true",
                   help="tiny grid (n=2000, d=2, K=2 and 3, 3 repeats) for a smoke run")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.d, args.K = [2000], [2], [2, 3]
        args.repeats, args.iters = 3, 5
    elif args.repeats < 5:
        print(f"note: --repeats {args.repeats} < 5 (STYLE 4.8 asks for >= 5)")
    return args


def main(argv=None):
    args = parse_args(argv)
    N_JOBS[0] = args.n_jobs
    # first: the very first skmoe fit of this process
    compile_info = {"this process (existing on-disk cache)": first_fit_in_process()}
    if not args.no_cold:
        with tempfile.TemporaryDirectory(prefix="skmoe-numba-cache-") as tmp:
            compile_info["fresh subprocess, empty NUMBA_CACHE_DIR"] = (
                first_fit_subprocess(tmp))
            compile_info["fresh subprocess, cache filled by the run above"] = (
                first_fit_subprocess(tmp))
    info = machine_info()
    print("Machine")
    for k, v in info.items():
        print(f"  {k:<30}{v}")
    print_compile(compile_info)
    print(f"\nGrid n={args.n} d={args.d} K={args.K}; repeats={args.repeats}, "
          f"iters={args.iters} (n>={args.large_n}: {args.iters_large}); seed={SEED}; "
          f"reference gate L-BFGS-B ftol={args.lbfgs_ftol:g} gtol={args.lbfgs_gtol:g};"
          f" BLAS threads={args.blas_threads or 'default'}; skmoe n_jobs={args.n_jobs}")
    results = []
    print_row_header()
    t_all = time.perf_counter()
    limit = contextlib.nullcontext()
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(args.blas_threads, user_api="blas")
    with limit:
        for n in args.n:
            for d in args.d:
                for K in args.K:
                    rec = bench_point(n, d, K, args)
                    results.append(rec)
                    print_row(rec)
    print_converge(results)
    if not args.converge_only:
        print_profiles(results)
    wall = time.perf_counter() - t_all
    print(f"\nTotal benchmark wall time {wall:.1f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "bench_em",
        "argv": sys.argv[1:],
        "args": {k: (str(v) if isinstance(v, Path) else v)
                 for k, v in vars(args).items()},
        "machine": info,
        "compile": compile_info,
        "results": results,
        "wall_time_s": wall,
    }
    args.json.write_text(json.dumps(payload, indent=1))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
