"""Small fits: skmoe's EM iteration against a minimal compiled EM loop.

One question: how far is one skmoe EM iteration from the fastest a Numba
user could write for the same model, at the sizes where users wait on many
small fits (n = 150 to 1e4)? The yardstick is ``_minimal_em.py`` (beside
this file): for every gating / expert / noise family that EM fits, the whole
EM iteration as one ``@njit`` function on raw arrays, running skmoe's
algorithm (same updates and safeguards; see that module for the one
documented simplification: the Student-t ECME step after iteration 20).

For every family and size the data come from ``make_moe_regression`` with
that family as the truth (seed 0); both implementations start from the same
parameters (``params_`` of a one-iteration skmoe fit) and run ``--iters``
iterations with ``tol=0``. Reported per row:

- ``skmoe us/it``: ``(T(fit, max_iter=1 + it) - T(fit, max_iter=1)) / it``
  with ``it = --time-iters`` (50 at n <= 1000, 10 above; at most 19 for the
  Student-t family, whose minimal loop leaves out the ECME step of later
  iterations),
  median of ``--repeats`` paired runs after a warm-up, i.e. the marginal cost
  of an iteration inside ``MixtureOfExpertsRegressor.fit`` (the fixed cost of
  a fit, validation, start and finish, is the ``fixed ms`` column);
- ``min us/it``: the minimal loop, all iterations in one compiled call,
  ``(T(it) - T(0)) / it``; ``py-step``: the same iteration called once per
  iteration from a Python loop (the design that keeps the stopping rule and
  printing in Python);
- ``ratio``: skmoe / minimal (one call), measured in the same run, runs
  alternating so that load from other processes hits both alike;
- ``compile s``: first call minus second call of the minimal loop in this
  process (a real compilation unless ``--cache`` and a warm cache: then
  ``(cached)``);
- ``max|dL|``: the largest difference of the two log-likelihood trajectories
  over the ``--iters`` iterations, and ``L_sk``, ``L_min`` the final values;
- with ``--converge`` (default for n <= 1000): both run to convergence with
  skmoe's stopping rule (``tol=1e-6``, at most 500 iterations), iterations and
  final log-likelihood of each.

Times ``T`` are this thread's CPU time (``time.thread_time``, ``--clock
cpu``, the default) or wall time (``--clock wall``). Both implementations
are serial (skmoe's compiled path below 1e5 rows, the minimal loops), so CPU
time is what they cost; on a shared machine the wall clock also counts the
time the process waits for a core, and a difference of two fits of ~1 ms
over 5 iterations (the defaults before) was dominated by it: at load 4 on 2
cores the median wall-clock estimate of an n = 150 iteration came out 2-4x
its CPU time. Every row also prints the 1-minute load average after it.

Usage::

    python benchmarks/bench_small_fits.py --quick        # n=150 and 1e4, ~15 s warm
    python benchmarks/bench_small_fits.py                # all families, 3 sizes
    python benchmarks/bench_small_fits.py --n 150 --families softmax+linear
    python benchmarks/bench_small_fits.py --profile      # + calls per iteration

JSON goes to ``benchmarks/results/bench_small_fits.json`` (or ``--json``).
"""

import argparse
import cProfile
import json
import os
import platform
import pstats
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "bench_small_fits.json"
SEED = 0
REG_VAR = 1e-6


# --------------------------------------------------------------------------
# families
# --------------------------------------------------------------------------
def families():
    """name -> (estimator keywords, data keywords, minimal-loop kind)."""
    from skmoe import (
        FFNExperts,
        GaussianGating,
        HierarchicalSoftmaxGating,
        NormalizedSigmoidGating,
        PolynomialExperts,
        SoftmaxGating,
    )

    return {
        "softmax+linear": ({}, {}, ("lif", None), 2),
        "softmax+poly2": ({"experts": PolynomialExperts(2)},
                          {"experts": PolynomialExperts(2)}, ("lif", "poly2"), 2),
        "nsigmoid+linear": ({"gating": NormalizedSigmoidGating()},
                            {"gating": NormalizedSigmoidGating()}, ("gate", 4), 2),
        "hier(2x2)+linear": ({"gating": HierarchicalSoftmaxGating(2)},
                             {"gating": HierarchicalSoftmaxGating(2)}, ("gate", 2),
                             4),
        "top2of3+linear": ({"gating": SoftmaxGating(top_k=2, anneal_iter=0)},
                           {"gating": SoftmaxGating(top_k=2)}, ("gate", 3), 3),
        "nsig-top2of3+linear": (
            {"gating": NormalizedSigmoidGating(2, anneal_iter=0)},
            {"gating": NormalizedSigmoidGating(2)}, ("gate", 5), 3),
        "softmax+ffn-relu": ({"experts": FFNExperts("relu")},
                             {"experts": FFNExperts("relu")}, ("ffn", 2), 2),
        "softmax+ffn-tanh": ({"experts": FFNExperts("tanh")},
                             {"experts": FFNExperts("tanh")}, ("ffn", 1), 2),
        "softmax+linear+t": ({"noise": "student_t"}, {"noise_df": 5.0}, ("t", None),
                             2),
        "gaussian+linear": ({"gating": GaussianGating("diag")},
                            {"gating": GaussianGating("diag")}, ("gauss", None), 2),
        "softmax+linear+pois": ({"noise": "poisson"}, {"response": "poisson"},
                                ("glm", (0, -1)), 2),
        "softmax+linear+binom": ({"noise": "binomial"}, {"response": "binomial"},
                                 ("glm", (1, -1)), 2),
        "softmax+ffn-tanh+pois": ({"noise": "poisson", "experts": FFNExperts("tanh")},
                                  {"response": "poisson",
                                   "experts": FFNExperts("tanh")},
                                  ("glm", (0, 1)), 2),
    }


def skmoe_fit(X, y, K, est_kw, init, max_iter, tol):
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    from skmoe import MixtureOfExpertsRegressor

    kw = {k: (clone(v) if hasattr(v, "get_params") else v) for k, v in est_kw.items()}
    est = MixtureOfExpertsRegressor(K, init_params=init, max_iter=max_iter, tol=tol,
                                    reg_var=REG_VAR, random_state=SEED, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est


# --------------------------------------------------------------------------
# the minimal loop of each family, driven on copies of the start
# --------------------------------------------------------------------------
class Minimal:
    """The minimal EM of one family on one data set, from ``start``."""

    def __init__(self, kind, X, y, start, var_floor):
        import _minimal_em as mm

        self.mm = mm
        self.kind, self.arg = kind
        self.X, self.y = X, y
        self.w = np.ones(X.shape[0])
        self.var_floor = var_floor
        self.start = start
        if self.kind == "lif":
            self.F = (np.ascontiguousarray(np.hstack([X, X * X]))
                      if self.arg == "poly2" else X)
            if self.arg == "poly2" and X.shape[1] != 1:
                raise ValueError("poly2 minimal loop written for d = 1")
        if self.kind == "gauss":
            self._gaussian_setup(start)
        if self.kind == "glm":
            # one trial per row (no sample_weight); the constant terms and the
            # saturated log-probabilities as skmoe's PoissonNoise/BinomialNoise
            from scipy.special import gammaln, xlogy

            self.law, self.code = self.arg
            self.a = np.ones(X.shape[0])
            if self.law == mm.POISSON:
                self.c = -gammaln(y + 1.0)
                self.sat = xlogy(y, y) - y + self.c
            else:
                s = self.a * y
                self.c = (gammaln(self.a + 1.0) - gammaln(s + 1.0)
                          - gammaln(self.a - s + 1.0))
                self.sat = self.c + xlogy(s, y) + xlogy(self.a - s, 1.0 - y)
        self.fn = {"lif": mm.loop_softmax_lif, "gate": mm.loop_gate_linear,
                   "ffn": mm.loop_softmax_ffn, "t": mm.loop_softmax_t,
                   "gauss": mm.loop_gaussian_linear,
                   "glm": mm.loop_softmax_glm}[self.kind]

    def _gaussian_setup(self, start):
        """Whitened inputs, their features and the start's logit rows.

        The diagonal Gaussian gate of ``start`` in the inputs ``z = (x -
        x_mean) / a`` (``a`` the roots of the diagonal of its
        ``x_covariance``): centres ``(c - x_mean) / a``, precisions ``a^2 /
        s^2``, logit rows ``[P c, P]`` and intercepts ``log pi + sum log P /
        2 - d log(2 pi) / 2 - sum P c^2 / 2``, minus the last expert's.
        """
        extra = start.gate_extra
        mean = np.asarray(extra["x_mean"], dtype=float)
        a = np.sqrt(np.diag(np.asarray(extra["x_covariance"], dtype=float)))
        d = self.X.shape[1]
        self.Z = np.ascontiguousarray((self.X - mean) / a)
        self.G = np.ascontiguousarray(np.hstack([self.Z, -0.5 * self.Z ** 2]))
        self.reg = np.ascontiguousarray(start.gating.reg_covar / a ** 2)
        cz = (np.asarray(start.gate_coef, dtype=float) - mean) / a
        Pz = np.asarray(extra["precision_cholesky"], dtype=float) ** 2 * a ** 2
        b = Pz * cz
        alpha = (np.asarray(start.gate_intercept, dtype=float)
                 + 0.5 * np.log(Pz).sum(axis=1) - 0.5 * d * np.log(2.0 * np.pi)
                 - 0.5 * (b * cz).sum(axis=1))
        rows = np.hstack([b, Pz])
        self.gauss_rows = (np.ascontiguousarray(rows - rows[-1]),
                           np.ascontiguousarray(alpha - alpha[-1]))

    def fresh(self):
        """Copies of the starting arrays (the loops update them in place)."""
        s = self.start
        d = self.X.shape[1]
        if self.kind == "gauss":
            gc, gb = (a.copy() for a in self.gauss_rows)
        else:
            gc = np.ascontiguousarray(s.gate_coef, dtype=float).copy()
            gb = np.ascontiguousarray(s.gate_intercept, dtype=float).copy()
        P = np.ascontiguousarray(s.expert_params, dtype=float).copy()
        var = np.ascontiguousarray(s.variance, dtype=float).copy()
        if self.kind == "gate" and self.arg == 2:
            g2c = np.ascontiguousarray(s.gate_extra["group_coef"], dtype=float).copy()
            g2b = np.ascontiguousarray(s.gate_extra["group_intercept"],
                                       dtype=float).copy()
        else:
            g2c, g2b = np.zeros((1, d)), np.zeros(1)
        df = (np.ascontiguousarray(s.noise_df, dtype=float).copy()
              if s.noise_df is not None else None)
        return gc, gb, g2c, g2b, P, var, df

    def run(self, n_iter):
        gc, gb, g2c, g2b, P, var, df = self.fresh()
        X, y, w, f = self.X, self.y, self.w, self.var_floor
        if self.kind == "lif":
            return self.fn(X, self.F, y, w, gc, gb, P, var, f, n_iter)
        if self.kind == "gate":
            return self.fn(X, y, w, self.arg, gc, gb, g2c, g2b, 2, P, var, f, n_iter)
        if self.kind == "ffn":
            return self.fn(X, y, w, gc, gb, P, self.arg, var, f, n_iter)
        if self.kind == "gauss":
            return self.fn(X, self.G, self.Z, y, w, self.reg, gc, gb, P, var, f,
                           n_iter)
        if self.kind == "glm":
            return self.fn(X, y, self.a, self.c, self.sat, w, self.law, gc, gb, P,
                           self.code, n_iter)
        return self.fn(X, y, w, gc, gb, P, var, df, True, f, n_iter)

    def stepper(self):
        """``(first, step)``: initial E-step and one-iteration closures."""
        mm = self.mm
        gc, gb, g2c, g2b, P, var, df = self.fresh()
        X, y, w, f = self.X, self.y, self.w, self.var_floor
        n, d = X.shape
        K = gc.shape[0]
        q = (K - 1) * (d + 1)
        R = np.empty((n, K))
        mass = np.empty(K)
        out = np.zeros(3)
        ggrad = np.empty(q)
        gneg = np.empty((q, q))
        if self.kind == "lif":
            F = self.F
            p = F.shape[1] + 1
            Rold = np.empty((n, K))
            gram = np.empty((K, p, p))
            moment = np.empty((K, p))

            def first():
                mm._estep_softmax_lif(X, F, y, w, gc, gb, P, var, R, Rold, False,
                                      gram, moment, mass, ggrad, gneg, out)
                return out[0]

            def step():
                return mm.step_softmax_lif(X, F, y, w, gc, gb, P, var, f, R, Rold,
                                           gram, moment, mass, ggrad, gneg, out)
        elif self.kind == "gate":
            p = d + 1
            gram = np.empty((K, p, p))
            moment = np.empty((K, p))
            kind = self.arg

            def first():
                return mm._estep_gate_linear(X, y, w, kind, gc, gb, g2c, g2b,
                                             g2c.shape[0], 2, P, var, R, gram,
                                             moment, mass)

            def step():
                return mm.step_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, 2, P,
                                           var, f, R, gram, moment, mass)
        elif self.kind == "gauss":
            G, Z, reg = self.G, self.Z, self.reg
            q = (K - 1) * (G.shape[1] + 1)
            ggrad, gneg = np.empty(q), np.empty((q, q))
            gram, moment = np.empty((K, d + 1, d + 1)), np.empty((K, d + 1))

            def first():
                return mm._estep_gaussian_linear(X, G, y, w, gc, gb, P, var, R, gram,
                                                 moment, mass, ggrad, gneg, out)

            def step():
                return mm.step_gaussian_linear(X, G, Z, y, w, reg, gc, gb, P, var, f,
                                               R, gram, moment, mass, ggrad, gneg,
                                               out)
        elif self.kind == "ffn":
            code = self.arg

            def first():
                return mm._estep_softmax_ffn(X, y, w, gc, gb, P, code, var, R,
                                             ggrad, gneg, mass, out)

            def step():
                return mm.step_softmax_ffn(X, y, w, gc, gb, P, code, var, f, R,
                                           ggrad, gneg, mass, out)
        elif self.kind == "glm":
            eta = np.empty((n, K))
            law, code, a, c, sat = self.law, self.code, self.a, self.c, self.sat

            def first():
                return mm._estep_softmax_glm(X, y, a, c, w, law, gc, gb, P, code, eta,
                                             R, ggrad, gneg, mass, out)

            def step():
                return mm.step_softmax_glm(X, y, a, c, sat, w, law, gc, gb, P, code,
                                           eta, R, ggrad, gneg, mass, out)
        else:
            U = np.empty((n, K))

            def first():
                return mm._estep_softmax_t(X, y, w, gc, gb, P, var, df, R, U,
                                           ggrad, gneg, mass, out)

            def step():
                return mm.step_softmax_t(X, y, w, gc, gb, P, var, df, True, f, R, U,
                                         ggrad, gneg, mass, out)
        return first, step

    def python_loop(self, n_iter, tol=None, max_iter=None):
        """One compiled call per iteration; with ``tol``, skmoe's stopping rule."""
        first, step = self.stepper()
        hist = [first()]
        W = float(self.w.sum())
        for _ in range(n_iter if tol is None else max_iter):
            hist.append(step())
            if tol is not None and (abs(hist[-1] - hist[-2])
                                    < tol * max(abs(hist[-2]), W)):
                break
        return np.asarray(hist)


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------
#: the clock of the timings (``--clock``): this thread's CPU time or wall time
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


def time_iters(args, kind, n):
    """Iterations per timed run: ``--time-iters`` or 50 / 10 by size."""
    it = args.time_iters or (50 if n <= 1000 else 10)
    # the minimal Student-t loop has no ECME step (skmoe's from iteration 21):
    # the timed fits make 1 + it <= 20 iterations
    return min(it, 19) if kind[0] == "t" else it


def bench_point(name, spec, n, d, args):
    from skmoe.datasets import make_moe_regression

    est_kw, data_kw, kind, K = spec
    X, y, _ = make_moe_regression(n, d, K, random_state=SEED, **data_kw)
    X = np.ascontiguousarray(X)
    start = skmoe_fit(X, y, K, est_kw, "random", 1, 0.0).params_
    var_y = float(np.var(y))
    var_floor = REG_VAR * (var_y if var_y > 0 else 1.0)
    it = args.iters
    rec = {"family": name, "n": n, "d": d, "K": K, "iters": it,
           "repeats": args.repeats}

    # compile (first call) and warm-up ---------------------------------------
    mini = Minimal(kind, X, y, start, var_floor)
    fn = mini.fn
    t0 = time.perf_counter()
    mini.run(1)
    t1 = time.perf_counter()
    mini.run(1)
    t2 = time.perf_counter()
    first, step = mini.stepper()  # compiles the step entry points too
    first()
    step()
    hits = sum(fn.stats.cache_hits.values()) if mm_cache() else 0
    rec["minimal_first_call_s"] = t1 - t0
    rec["minimal_compile_s"] = (t1 - t0) - (t2 - t1)
    rec["minimal_cache_hit"] = bool(hits)
    skmoe_fit(X, y, K, est_kw, start, it, 0.0)

    # trajectories from the same start -----------------------------------------
    sk_hist = np.asarray(skmoe_fit(X, y, K, est_kw, start, it, 0.0).history_)
    mn_hist = mini.run(it)
    m = min(len(sk_hist), len(mn_hist))
    rec["max_abs_dL"] = float(np.max(np.abs(sk_hist[:m] - mn_hist[:m])))
    rec["L_skmoe"] = float(sk_hist[-1])
    rec["L_minimal"] = float(mn_hist[-1])
    rec["iters_skmoe"] = len(sk_hist) - 1

    # steady state, alternating -------------------------------------------------
    clock = CLOCKS[args.clock]
    it = time_iters(args, kind, n)
    rec["time_iters"] = it
    rec["clock"] = args.clock
    sk_runs, sk1_runs, mn_runs, mn0_runs, py_runs = [], [], [], [], []
    for _ in range(args.repeats):
        t0 = clock()
        e = skmoe_fit(X, y, K, est_kw, start, 1 + it, 0.0)
        t1 = clock()
        skmoe_fit(X, y, K, est_kw, start, 1, 0.0)
        t2 = clock()
        mini.run(it)
        t3 = clock()
        mini.run(0)
        t4 = clock()
        first, step = mini.stepper()
        first()
        t5 = clock()
        for _ in range(it):
            step()
        t6 = clock()
        sk_runs.append((t1 - t0, e.n_iter_))
        sk1_runs.append(t2 - t1)
        mn_runs.append(t3 - t2)
        mn0_runs.append(t4 - t3)
        py_runs.append(t6 - t5)
    per_sk = [(a - b) / max(k - 1, 1) for (a, k), b in zip(sk_runs, sk1_runs,
                                                          strict=True)]
    per_mn = [(a - b) / it for a, b in zip(mn_runs, mn0_runs, strict=True)]
    rec["skmoe_s_per_iter"] = float(np.median(per_sk))
    rec["skmoe_fixed_s"] = float(np.median(sk1_runs)) - rec["skmoe_s_per_iter"]
    rec["minimal_s_per_iter"] = float(np.median(per_mn))
    rec["minimal_py_step_s_per_iter"] = float(np.median(py_runs)) / it
    rec["ratio"] = rec["skmoe_s_per_iter"] / rec["minimal_s_per_iter"]
    rec["ratio_py_step"] = rec["skmoe_s_per_iter"] / rec["minimal_py_step_s_per_iter"]
    rec["runs"] = {"skmoe": sk_runs, "skmoe_1": sk1_runs, "minimal": mn_runs,
                   "minimal_0": mn0_runs, "py_step": py_runs}

    # convergence -------------------------------------------------------------------
    if args.converge or (args.converge_auto and n <= 1000):
        e = skmoe_fit(X, y, K, est_kw, start, args.max_iter, args.tol)
        h = mini.python_loop(0, tol=args.tol, max_iter=args.max_iter)
        rec["converge"] = {"skmoe_iters": int(e.n_iter_),
                           "skmoe_L": float(e.log_likelihood_),
                           "minimal_iters": len(h) - 1, "minimal_L": float(h[-1])}
    rec["loadavg"] = os.getloadavg()
    return rec


def mm_cache():
    import _minimal_em as mm

    return mm.CACHE


# --------------------------------------------------------------------------
# profile: Python-level calls per iteration
# --------------------------------------------------------------------------
def profile_calls(name, spec, n, d, iters=100, top=15):
    """cProfile of fits with 1 and 1 + iters iterations: per-iteration calls."""
    from skmoe.datasets import make_moe_regression

    est_kw, data_kw, _, K = spec
    X, y, _ = make_moe_regression(n, d, K, random_state=SEED, **data_kw)
    start = skmoe_fit(X, y, K, est_kw, "random", 1, 0.0).params_
    skmoe_fit(X, y, K, est_kw, start, 5, 0.0)

    def stats(m):
        pr = cProfile.Profile()
        pr.enable()
        e = skmoe_fit(X, y, K, est_kw, start, m, 0.0)
        pr.disable()
        return pstats.Stats(pr).stats, e.n_iter_

    s1, _ = stats(1)
    s, k = stats(1 + iters)
    k -= 1
    rows = []
    for key, v in s.items():
        c1, t1 = s1.get(key, (0, 0, 0, 0))[1], s1.get(key, (0, 0, 0, 0))[2]
        rows.append(((v[1] - c1) / k, (v[2] - t1) / k, key))
    total_calls = sum(r[0] for r in rows)
    total_self = sum(r[1] for r in rows)
    rows.sort(key=lambda r: -r[0])
    print(f"\ncProfile, {name}, n={n}, d={d}, K={K}: {total_calls:.0f} Python-level "
          f"calls and {1e6 * total_self:.0f} us of profiled self time per iteration "
          f"(load {os.getloadavg()[0]:.1f})")
    print(f"  {'calls/it':>9}{'self us/it':>11}  function")
    for c, t, key in rows[:top]:
        where = f"{os.path.basename(key[0])}:{key[1]}" if key[0] != "~" else ""
        print(f"  {c:9.1f}{1e6 * t:11.1f}  {key[2]} {where}")
    by_time = sorted(rows, key=lambda r: -r[1])[:top]
    print(f"  -- by self time --\n  {'calls/it':>9}{'self us/it':>11}  function")
    for c, t, key in by_time:
        where = f"{os.path.basename(key[0])}:{key[1]}" if key[0] != "~" else ""
        print(f"  {c:9.1f}{1e6 * t:11.1f}  {key[2]} {where}")
    return {"family": name, "n": n, "calls_per_iter": total_calls,
            "self_s_per_iter": total_self,
            "top": [{"calls": c, "self_s": t, "fn": f"{key[0]}:{key[1]}:{key[2]}"}
                    for c, t, key in rows[:top]]}


# --------------------------------------------------------------------------
def machine_info():
    import numba
    import sklearn

    import skmoe

    return {"nproc": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "sklearn": sklearn.__version__, "skmoe": skmoe.__version__,
            "numba_threads": numba.get_num_threads(),
            "minimal_cache": mm_cache(), "loadavg_start": os.getloadavg()}


def _fmt_n(n):
    e = int(round(np.log10(n)))
    return f"1e{e}" if 10 ** e == n else str(n)


HEADER = (f"{'family':<18}{'n':>5}{'K':>3}{'skmoe us/it':>12}{'min us/it':>10}"
          f"{'py-step':>9}{'ratio':>7}{'r(py)':>7}{'fixed ms':>9}{'compile s':>10}"
          f"{'max|dL|':>10}{'L_sk':>12}{'L_min':>12}{'load':>6}")


def print_row(r):
    comp = ("(cached)" if r["minimal_cache_hit"]
            else f"{r['minimal_compile_s']:.2f}")
    print(f"{r['family']:<18}{_fmt_n(r['n']):>5}{r['K']:>3}"
          f"{1e6 * r['skmoe_s_per_iter']:12.1f}{1e6 * r['minimal_s_per_iter']:10.1f}"
          f"{1e6 * r['minimal_py_step_s_per_iter']:9.1f}{r['ratio']:7.1f}"
          f"{r['ratio_py_step']:7.1f}{1e3 * r['skmoe_fixed_s']:9.2f}{comp:>10}"
          f"{r['max_abs_dL']:10.1e}{r['L_skmoe']:12.4f}{r['L_minimal']:12.4f}"
          f"{r['loadavg'][0]:6.1f}", flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[150, 1000, 10_000])
    p.add_argument("--d", type=int, default=1)
    p.add_argument("--families", nargs="+", default=None,
                   help="subset of the family names (default: all)")
    p.add_argument("--iters", type=int, default=10,
                   help="EM iterations of the compared trajectories")
    p.add_argument("--time-iters", type=int, default=None,
                   help="EM iterations per timed run (default 50 at n <= 1000, "
                        "10 above; at most 19 for Student-t noise)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="cpu: this thread's CPU time (default); wall: elapsed")
    p.add_argument("--repeats", type=int, default=7, help=">= 5")
    p.add_argument("--max-iter", type=int, default=500)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--converge", action="store_true",
                   help="run to convergence at every size (default: n <= 1000)")
    p.add_argument("--no-converge", action="store_true")
    p.add_argument("--cache", action="store_true",
                   help="Numba on-disk cache for the minimal loops")
    p.add_argument("--profile", action="store_true",
                   help="cProfile of every family at the smallest n")
    p.add_argument("--quick", action="store_true",
                   help="n = 150 and 1e4, four families, 5 repeats, "
                        "cached loops")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    if args.quick:
        # the top-K gate is left out: its skmoe iteration at n = 1e4 (~0.25-0.5
        # s) alone would take most of a minute
        args.n = [150, 10_000]
        args.repeats, args.iters = 5, 10
        args.cache = True
        if args.families is None:
            args.families = ["softmax+linear", "nsigmoid+linear", "softmax+ffn-relu",
                             "softmax+linear+t"]
    args.converge_auto = not args.no_converge
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.cache:
        os.environ["SKMOE_BENCH_CACHE"] = "1"
    sys.path.insert(0, str(HERE))
    t_all = time.perf_counter()
    fams = families()
    names = args.families or list(fams)
    info = machine_info()
    print("Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(f"d={args.d}, iters={args.iters} (compared), time-iters="
          f"{args.time_iters or '50 (n <= 1000) / 10'} (timed; <= 19 for t), "
          f"repeats={args.repeats}, seed={SEED}, clock={args.clock}; times are "
          "medians; ratio = skmoe / minimal (one compiled call), "
          "r(py) = skmoe / minimal (one compiled call per iteration)")
    print(HEADER)
    results = []
    for name in names:
        for n in args.n:
            rec = bench_point(name, fams[name], n, args.d, args)
            results.append(rec)
            print_row(rec)
    conv = [r for r in results if "converge" in r]
    if conv:
        print(f"\nTo convergence (tol={args.tol:g}, skmoe's rule, at most "
              f"{args.max_iter} iterations), from the same start")
        print(f"{'family':<18}{'n':>5}{'skmoe it':>9}{'L_skmoe':>14}{'minimal it':>11}"
              f"{'L_minimal':>14}{'L_sk - L_min':>14}")
        for r in conv:
            c = r["converge"]
            print(f"{r['family']:<18}{_fmt_n(r['n']):>5}{c['skmoe_iters']:9d}"
                  f"{c['skmoe_L']:14.6f}{c['minimal_iters']:11d}{c['minimal_L']:14.6f}"
                  f"{c['skmoe_L'] - c['minimal_L']:14.2e}")
    prof = None
    if args.profile:
        prof = [profile_calls(name, fams[name], min(args.n), args.d)
                for name in names]
    wall = time.perf_counter() - t_all
    print(f"\nTotal wall time {wall:.1f} s, load {os.getloadavg()}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "benchmark": "bench_small_fits", "argv": sys.argv[1:], "machine": info,
        "results": results, "profile": prof, "wall_time_s": wall,
    }, indent=1, default=str))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
