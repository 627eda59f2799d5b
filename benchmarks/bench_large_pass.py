"""The n = 1e6, d = 10, K = 4 EM iteration: today's passes, floors, a prototype.

One question: how close can one EM iteration of the softmax-gated linear
Gaussian mixture of experts come to the hardware floors at n = 1e6 (issue
target: 170 ns/row on one thread, 2 threads >= 1.8x faster), and which part
costs what? Measured in one run, 1 and 2 Numba threads, ns per row, median of
``--repeats``:

- floors: reading X once; 8 exp + 2 log per row with libm and with the
  vectorisable ``vexp`` of ``_fast_pass.py``; the block ``dgemm`` products
  of the statistics alone;
- skmoe: ``fused_estep_statistics`` (the one pass: E-step and every
  statistic, the variances' residual sums of squares included), serial and
  its parallel twin ``fused_estep_statistics_parallel``, and a whole EM
  iteration inside ``MixtureOfExpertsRegressor.fit`` with ``n_jobs`` = the
  thread count (``(T(1 + it) - T(1)) / it``);
- the prototype ``_fast_pass.fast_pass`` (one pass, see its module): E-step
  only, and E-step with all statistics, with libm ``exp`` and with ``vexp``;
- the NumPy/SciPy reference EM of ``bench_em.py`` (per iteration, one BLAS
  thread), and the ratio reference / skmoe and reference / prototype.

Checks printed with the figures: the prototype's statistics against skmoe's
kernels (largest relative differences: log-likelihood, Gram matrices, moments
after conversion from the residual form, gate gradient and Hessian, and the
residual sums of squares at the updated experts from ``S - delta^T m'``
against ``weighted_residual_ss`` at those experts); bit-identity of the prototype
with 1 and 2 threads; the maximum ulp error of ``vexp`` against NumPy's
``exp`` (libm) over ``[-708, 0]``.

Usage::

    python benchmarks/bench_large_pass.py                 # n = 1e6, d = 10, K = 4
    python benchmarks/bench_large_pass.py --quick         # n = 2e5, no reference
    python benchmarks/bench_large_pass.py --n 10000000 --no-reference --no-fit
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "bench_large_pass.json"
sys.path.insert(0, str(HERE))


def med(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def ulp_error(approx, exact):
    """Largest ``|approx - exact|`` in units of the last place of ``exact``."""
    ok = exact > 0
    return float(np.max(np.abs(approx[ok] - exact[ok]) / np.spacing(exact[ok])))


def vexp_accuracy(fp, n=4_000_000, seed=0):
    rng = np.random.default_rng(seed)
    parts = {
        "[-708, 0] uniform": rng.uniform(-708.0, 0.0, n),
        "[-40, 0] uniform": rng.uniform(-40.0, 0.0, n),
        "[-1, 0] uniform": rng.uniform(-1.0, 0.0, n),
        "near multiples of ln2/2": (np.arange(-2000, 1) * np.log(2) / 2)[:, None]
        + np.linspace(-1e-6, 1e-6, 101)[None, :],
    }
    out = {}
    for label, x in parts.items():
        x = np.ascontiguousarray(np.minimum(x.ravel(), 0.0))
        out[label] = ulp_error(fp.vexp_array(x), np.exp(x))
    special = np.array([-np.inf, -1e300, -800.0, -708.0, -707.9, 0.0, -0.0])
    got = fp.vexp_array(special)
    out["special values"] = {str(a): float(b) for a, b in zip(special, got,
                                                             strict=True)}
    return out


def skmoe_args(X, y, params):
    from skmoe.utils._arrays import as_kernel_array

    d = X.shape[1]
    P = params.expert_params
    return (as_kernel_array(params.gate_coef), as_kernel_array(params.gate_intercept),
            as_kernel_array(P[:, :d]), as_kernel_array(P[:, d]),
            as_kernel_array(params.variance))


def compare(fp, X, y, w, gate, R1, R2):
    """Prototype statistics against skmoe's fused kernels (relative diffs)."""
    from skmoe._kernels._chunks import symmetric_from_packed
    from skmoe._kernels._fused import fused_estep_statistics
    from skmoe._kernels._gaussian import weighted_residual_ss
    from skmoe._kernels._softmax import hessian_from_packed

    gc, gb, ec, ei, var = gate
    K, d = gc.shape
    p = d + 1
    (ll, gv, _, grad, neg, gram, moment_res, _, mass,
     gmass) = fused_estep_statistics(X, y, w, gc, gb, ec, ei, var, R1, False)
    # skmoe's moments are in residual form too: back to sum_i R_ik f_i y_i
    b_at = np.hstack([ec, ei[:, None]])
    moment = moment_res + np.einsum("kab,kb->ka", gram, b_at)
    ll2, gv2, packed, mom, sk = fp.fast_pass(X, y, w, gc, gb, ec, ei, var, R2, True,
                                             True)
    gram2 = symmetric_from_packed(np.ascontiguousarray(packed[:K]), p)
    b_old = np.hstack([ec, ei[:, None]])
    # residual-form moments: m' = m - G b_old
    m_res = mom[:K]
    moment2 = m_res + np.einsum("kab,kb->ka", gram2, b_old)
    grad2 = mom[K:].ravel()
    neg2 = hessian_from_packed(np.ascontiguousarray(packed[K:]), K, p)

    def rel(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))

    out = {"loglik": rel(ll2, ll), "gate_value": rel(gv2, gv),
           "gram": rel(gram2, gram), "moment": rel(moment2, moment),
           "gate_grad": rel(grad2, grad), "gate_neg_hess": rel(neg2, neg),
           "mass": rel(sk[0], mass), "gate_mass": rel(sk[2], gmass),
           "resp": rel(R2, R1)}
    # variances at the updated experts: one pass (S - delta^T m') vs two
    delta = np.stack([np.linalg.solve(gram2[k], m_res[k]) for k in range(K)])
    b_new = b_old + delta
    rss_one = sk[1] - np.einsum("ka,ka->k", delta, m_res)
    means = np.ascontiguousarray(X @ b_new[:, :d].T + b_new[:, d])
    rss_two = weighted_residual_ss(y, means, R1)
    out["rss_new (one pass vs weighted_residual_ss)"] = rel(rss_one, rss_two)
    b_skmoe = np.stack([np.linalg.lstsq(gram[k], moment[k], rcond=None)[0]
                        for k in range(K)])
    out["expert update (delta form vs normal equations)"] = rel(b_new, b_skmoe)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--K", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--ref-repeats", type=int, default=3)
    p.add_argument("--fit-iters", type=int, default=3)
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--no-fit", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.no_reference, args.repeats, args.fit_iters = 200_000, True, 5, 2
    import _fast_pass as fp
    from threadpoolctl import threadpool_limits

    from skmoe import MixtureOfExpertsRegressor
    from skmoe._kernels._fused import (
        fused_estep_statistics,
        fused_estep_statistics_parallel,
    )
    from skmoe.datasets import make_moe_regression

    n, d, K = args.n, args.d, args.K
    print(f"n={n}, d={d}, K={K}, repeats={args.repeats}; numba {numba.__version__}, "
          f"NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}; load "
          f"{os.getloadavg()}")
    X, y, _ = make_moe_regression(n, d, K, random_state=0)
    X = np.ascontiguousarray(X)
    w = np.ones(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = MixtureOfExpertsRegressor(K, max_iter=1, random_state=0).fit(X, y)
    start = first.params_
    gate = skmoe_args(X, y, start)
    R = np.empty((n, K))
    R2 = np.empty((n, K))
    res = {"n": n, "d": d, "K": K}

    # accuracy and invariance first (also compiles everything) -------------
    res["vexp_ulp"] = vexp_accuracy(fp)
    numba.set_num_threads(1)
    res["compare"] = compare(fp, X, y, w, gate, R, R2)
    a1 = fp.fast_pass(X, y, w, *gate, R2, True, True)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    a2 = fp.fast_pass(X, y, w, *gate, R2, True, True)
    res["prototype_identical_1_vs_2_threads"] = all(
        np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(a1, a2,
                                                                     strict=True))

    # timings, per thread count ------------------------------------------
    E = np.ascontiguousarray(np.minimum(
        np.random.default_rng(1).standard_normal(8 * n) * 3.0, 0.0))
    out8 = np.empty(8 * n)
    L2 = np.abs(np.random.default_rng(2).standard_normal(2 * n)) + 0.5
    rows = {}
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        r = {}
        with threadpool_limits(1, user_api="blas"):
            r["read X"] = med(lambda: fp.read_floor(X), args.repeats)
            if threads == 1:
                r["8 exp (libm)"] = med(lambda: fp.exp_floor(E, out8, False, 1),
                                        args.repeats)
                r["8 exp (vexp)"] = med(lambda: fp.exp_floor(E, out8, True, 1),
                                        args.repeats)
                r["2 log (libm)"] = med(lambda: fp.log_floor(L2, 1), args.repeats)
            if threads == 1:
                r["skmoe: fused_estep_statistics (serial)"] = med(
                    lambda: fused_estep_statistics(X, y, w, *gate, R, False),
                    args.repeats)
            r["skmoe: fused_estep_statistics_parallel"] = med(
                lambda: fused_estep_statistics_parallel(X, y, w, *gate, R, False),
                args.repeats)
            for vec in (False, True):
                tag = "vexp" if vec else "libm exp"
                r[f"prototype E-step only ({tag})"] = med(
                    lambda vec=vec: fp.fast_pass(X, y, w, *gate, R2, vec, False),
                    args.repeats)
                r[f"prototype full pass ({tag})"] = med(
                    lambda vec=vec: fp.fast_pass(X, y, w, *gate, R2, vec, True),
                    args.repeats)
            if not args.no_fit:
                def fit(m, threads=threads):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        MixtureOfExpertsRegressor(
                            K, init_params=start, max_iter=m, tol=0.0,
                            random_state=0, n_jobs=threads).fit(X, y)
                t1 = med(lambda: fit(1), max(3, args.repeats // 2))
                tm = med(lambda: fit(1 + args.fit_iters), max(3, args.repeats // 2))
                r["skmoe: EM iteration (fit, n_jobs = threads)"] = (
                    (tm - t1) / args.fit_iters)
        r = {k: 1e9 * v / n for k, v in r.items()}
        r["products only (full - E-step only, vexp)"] = (
            r["prototype full pass (vexp)"] - r["prototype E-step only (vexp)"])
        r["load"] = os.getloadavg()[0]
        rows[threads] = r
        print(f"\n{threads} thread(s), ns per row (load {r['load']:.1f})")
        for k, v in r.items():
            if k != "load":
                print(f"  {k:<46}{v:9.1f}")
    res["ns_per_row"] = rows
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    one, two = rows[1], rows[2]
    print("\n2 threads vs 1 (speed-up): " + ", ".join(
        f"{k.split(':')[-1].strip()} {one[k] / two[k]:.2f}x"
        for k in ("skmoe: fused_estep_statistics_parallel",
                  "skmoe: EM iteration (fit, n_jobs = threads)",
                  "prototype full pass (vexp)",
                  "read X") if k in one and k in two))

    # NumPy / SciPy reference --------------------------------------------
    if not args.no_reference:
        from bench_em import REG_VAR, ReferenceEM, start_arrays

        var_y = float(np.var(y))
        floor = REG_VAR * var_y
        ref_start = start_arrays(start)
        with threadpool_limits(1, user_api="blas"):
            t_ref = []
            for _ in range(args.ref_repeats):
                ref = ReferenceEM(X, y, floor)
                t0 = time.perf_counter()
                ref.run(ref_start, 2, 0.0)
                t2 = time.perf_counter() - t0
                ref = ReferenceEM(X, y, floor)
                t0 = time.perf_counter()
                ref.run(ref_start, 1, 0.0)
                t1 = time.perf_counter() - t0
                t_ref.append(t2 - t1)
        ref_ns = 1e9 * float(np.median(t_ref)) / n
        res["reference_ns_per_row_per_iter"] = ref_ns
        print(f"\nNumPy/SciPy reference (bench_em.ReferenceEM, 1 BLAS thread): "
              f"{ref_ns:.0f} ns/row per iteration (load {os.getloadavg()[0]:.1f})")
        fit_key = "skmoe: EM iteration (fit, n_jobs = threads)"
        if fit_key in one:
            res["reference_over_skmoe_1_thread"] = ref_ns / one[fit_key]
            print(f"  reference / skmoe EM iteration (1 thread): "
                  f"{ref_ns / one[fit_key]:.1f}x")
        print(f"  reference / prototype pass (1 thread, vexp): "
              f"{ref_ns / one['prototype full pass (vexp)']:.1f}x")

    print("\nChecks")
    print("  vexp max ulp error against np.exp: " + ", ".join(
        f"{k} {v:.2f}" for k, v in res["vexp_ulp"].items() if k != "special values"))
    print(f"  vexp special values: {res['vexp_ulp']['special values']}")
    print("  prototype vs skmoe kernels (max relative difference): " + ", ".join(
        f"{k} {v:.1e}" for k, v in res["compare"].items()))
    print(f"  prototype bit-identical with 1 and 2 threads: "
          f"{res['prototype_identical_1_vs_2_threads']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1, default=str))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
