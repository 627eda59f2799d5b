"""Fixed costs of calling compiled code: Numba dispatch and parallel regions.

Two questions, for the design of a compiled EM iteration:

1. **Dispatch.** What does one call of an ``@njit`` function cost from
   Python, as a function of the number of array arguments ``k`` (and with
   scalar arguments, or new arrays returned: every returned array is boxed
   with a ``_numba_unpickle`` call for its dtype)? This says how many
   kernel calls per iteration a small fit can afford: at n = 150 the minimal
   compiled iteration of ``bench_small_fits.py`` costs about 15-25 us.
2. **Parallel regions.** What does a ``parallel=True`` kernel pay per call
   for its thread launches, compared with a serial compilation of the same
   Python function (``njit(kernel.py_func)``: ``prange`` becomes ``range``),
   with 1 and 2 Numba threads? Measured on an empty ``prange`` over skmoe's
   16 fixed chunks and on skmoe's fused pass: ``fused_estep_statistics``
   (serial) against its parallel twin ``fused_estep_statistics_parallel``
   (one ``prange`` over the chunks, ``_chunks_in_threads``) at n = 150 and
   n = 1e4 (d = 1, K = 2; also d = 10, K = 4 at n = 1e4). The number of
   parallel loops Numba made of the twin's ``prange`` kernel
   (``parallel_diagnostics``, from a fresh compilation) is printed too. The
   results are checked bit-identical.

Each figure is the median of ``--repeats`` timings of a loop of calls
(a call is timed as loop time / calls); compile times are first call minus
second call in this process (the serial twins are compiled here, without the
on-disk cache). The load average is printed with each table.

Usage::

    python benchmarks/bench_dispatch.py
    python benchmarks/bench_dispatch.py --quick
"""

import argparse
import contextlib
import io
import json
import os
import re
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "bench_dispatch.json"


# --------------------------------------------------------------------------
# 1. dispatch
# --------------------------------------------------------------------------
def _make_array_fn(k):
    """``@njit`` function of ``k`` array arguments returning an int."""
    names = ", ".join(f"a{j}" for j in range(k))
    body = " + ".join(f"a{j}.size" for j in range(k)) or "0"
    ns = {}
    exec(f"def f({names}):\n    return {body}\n", ns)  # noqa: S102
    return njit(ns["f"])


@njit
def _scalars6(a, b, c, d, e, f):
    return a + b + c + d + e + f


@njit
def _tuple_out(x, k):
    """Four new small arrays and two floats."""
    return (np.zeros(k), np.zeros(k), np.zeros((k, k)), np.zeros(k), 1.0, 2.0)


@njit
def _bool_arg(x, flag):
    return x[0] if flag else 0.0


@njit
def _one_array_out(x):
    return np.empty(3)


@njit
def _into(x, out):
    out[0] = x[0]
    return 1.0


def per_call(fn, args, calls, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        ts.append((time.perf_counter() - t0) / calls)
    return float(np.median(ts))


def bench_dispatch(args):
    rows = []
    x = np.ones(4)
    calls, reps = args.calls, args.repeats

    def py(*a):
        return 0.0

    rows.append(("Python function, 3 arrays", per_call(py, (x, x, x), calls, reps)))
    out = np.empty(4)
    rows.append(("np.add(x, x, out=out) (4 floats)",
                 per_call(np.add, (x, x, out), calls, reps)))
    for k in (0, 1, 2, 3, 5, 8, 10, 15):
        fn = _make_array_fn(k)
        fn(*([x] * k))
        rows.append((f"njit, {k} array arguments",
                     per_call(fn, [x] * k, calls, reps)))
    big = np.ones((150, 2))
    fn = _make_array_fn(3)
    fn(big, big, big)
    rows.append(("njit, 3 arrays (150, 2), 2-D",
                 per_call(fn, (big, big, big), calls, reps)))
    f2 = big[:, :1]
    fn(f2, f2, f2)  # a new specialisation: non-contiguous
    rows.append(("njit, 3 non-contiguous arrays (a second signature)",
                 per_call(fn, (f2, f2, f2), calls, reps)))
    _scalars6(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    rows.append(("njit, 6 float arguments",
                 per_call(_scalars6, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0), calls, reps)))
    _bool_arg(x, True)
    rows.append(("njit, array + bool", per_call(_bool_arg, (x, True), calls, reps)))
    _tuple_out(x, 3)
    rows.append(("njit returning 4 new arrays + 2 floats",
                 per_call(_tuple_out, (x, 3), calls, reps)))
    _one_array_out(x)
    rows.append(("njit returning 1 new array",
                 per_call(_one_array_out, (x,), calls, reps)))
    out = np.empty(3)
    _into(x, out)
    rows.append(("njit writing into an out array, returning a float",
                 per_call(_into, (x, out), calls, reps)))
    return rows


# --------------------------------------------------------------------------
# 2. parallel regions
# --------------------------------------------------------------------------
N_CHUNKS = 16


def _empty_chunks(out):
    for c in prange(N_CHUNKS):
        out[c] = c


_empty_par = njit(parallel=True)(_empty_chunks)
_empty_ser = njit(_empty_chunks)


def count_parallel_loops(dispatcher):
    """Number of parallel loops Numba made of a compiled parallel kernel."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            dispatcher.parallel_diagnostics(level=1)
        except Exception:  # pragma: no cover - informational only
            return None
    # the loop listing marks each parallel loop as "| #ID" at the end of a line
    return len(set(re.findall(r"\| #(\d+)\s*$", buf.getvalue(), re.M)))


def _timed_first_two(fn, args):
    t0 = time.perf_counter()
    fn(*args)
    t1 = time.perf_counter()
    fn(*args)
    t2 = time.perf_counter()
    return (t1 - t0) - (t2 - t1)


def fused_args(n, d, K, seed=0):
    from skmoe.datasets import make_moe_regression

    X, y, truth = make_moe_regression(n, d, K, random_state=seed)
    X = np.ascontiguousarray(X)
    w = np.ones(n)
    gc = np.ascontiguousarray(truth.gate_coef)
    gb = np.ascontiguousarray(truth.gate_intercept)
    P = truth.expert_params
    ec = np.ascontiguousarray(P[:, :d])
    ei = np.ascontiguousarray(P[:, d])
    var = np.ascontiguousarray(truth.variance)
    R = np.empty((n, K))
    return (X, y, w, gc, gb, ec, ei, var, R, False)


def bench_parallel(args):
    import skmoe._kernels._fused as kf

    out = np.zeros(N_CHUNKS)
    _empty_par(out)
    _empty_ser(out)
    rec = {"empty": {}, "kernels": []}
    calls = max(args.calls // 10, 200)
    for threads in (1, 2):
        numba.set_num_threads(threads)
        rec["empty"][threads] = per_call(_empty_par, (out,), calls, args.repeats)
    rec["empty"]["serial"] = per_call(_empty_ser, (out,), calls, args.repeats)

    # the parallel twin and the serial kernel as skmoe calls them (compile
    # times: from the on-disk cache when it is warm); the parallel loop
    # listing from a fresh compilation of the twin's prange kernel (a kernel
    # loaded from the cache has none)
    twins = {"fused_estep_statistics": (kf.fused_estep_statistics_parallel,
                                        kf.fused_estep_statistics)}
    prange_kernel = njit(parallel=True)(kf._chunks_in_threads.py_func)
    shapes = [(150, 1, 2), (10_000, 1, 2), (10_000, 10, 4)]
    if args.quick:
        shapes = shapes[:2]
    compile_s = {}
    for n, d, K in shapes:
        a_e = fused_args(n, d, K)
        if n == shapes[0][0]:  # compile the fresh prange kernel once
            st = kf._setup(a_e[0], *a_e[3:8])
            prange_kernel(*a_e[:3], *st[:3], a_e[8], a_e[9], *st[3:])
        for name, kargs in (("fused_estep_statistics", a_e),):
            par, ser = twins[name]
            key = (name, d, K)
            if key not in compile_s:
                compile_s[key] = (_timed_first_two(ser, kargs),
                                  _timed_first_two(par, kargs))
            # bit-identical results
            r_par = par(*kargs)
            r_ser = ser(*kargs)
            same = all(np.array_equal(np.asarray(u), np.asarray(v))
                       for u, v in zip(r_par, r_ser, strict=True)) if isinstance(
                r_par, tuple) else np.array_equal(r_par, r_ser)
            c = max(20, min(2000, int(2e6 / n)))
            row = {"kernel": name, "n": n, "d": d, "K": K, "identical": bool(same)}
            # alternate: serial, 1 thread, 2 threads, per repeat
            ts = {"serial": [], 1: [], 2: []}
            for _ in range(args.repeats):
                ts["serial"].append(per_call(ser, kargs, c, 1))
                for threads in (1, 2):
                    numba.set_num_threads(threads)
                    ts[threads].append(per_call(par, kargs, c, 1))
            for k, v in ts.items():
                row[str(k)] = float(np.median(v))
            row["loadavg"] = os.getloadavg()[0]
            rec["kernels"].append(row)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    rec["compile_s"] = {f"{k[0]} d={k[1]} K={k[2]}": {"serial": v[0], "parallel": v[1]}
                        for k, v in compile_s.items()}
    rec["parallel_loops"] = {"_chunks_in_threads": count_parallel_loops(
        prange_kernel)}
    return rec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    if args.quick:
        args.calls, args.repeats = 5000, 5
    print(f"numba {numba.__version__}, numpy {np.__version__}, nproc={os.cpu_count()}, "
          f"threading layer {numba.config.THREADING_LAYER}, "
          f"NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}")
    rows = bench_dispatch(args)
    print(f"\n1. Cost of one call from Python (median of {args.repeats} loops of "
          f"{args.calls} calls; load {os.getloadavg()[0]:.1f})")
    for label, t in rows:
        print(f"  {label:<52}{1e9 * t:9.0f} ns")
    base = dict(rows)["njit, 0 array arguments"]
    k10 = dict(rows)["njit, 10 array arguments"]
    print(f"  => about {1e9 * (k10 - base) / 10:.0f} ns per array argument on top of "
          f"{1e9 * base:.0f} ns per call")

    par = bench_parallel(args)
    print(f"\n2. Parallel regions (load {os.getloadavg()[0]:.1f})")
    e = par["empty"]
    print(f"  empty prange over {N_CHUNKS} chunks: serial twin "
          f"{1e6 * e['serial']:.2f} us, parallel 1 thread {1e6 * e[1]:.2f} us, "
          f"2 threads {1e6 * e[2]:.2f} us per call")
    print(f"  parallel loops per call (parallel_diagnostics): {par['parallel_loops']}")
    print(f"  {'kernel':<24}{'n':>7}{'d':>4}{'K':>3}{'serial us':>11}{'par 1 thr':>11}"
          f"{'par 2 thr':>11}{'1thr/ser':>10}{'2thr/ser':>10}{'same bits':>10}"
          f"{'load':>6}")
    for r in par["kernels"]:
        s = r["serial"]
        print(f"  {r['kernel']:<24}{r['n']:>7}{r['d']:>4}{r['K']:>3}{1e6 * s:11.1f}"
              f"{1e6 * r['1']:11.1f}{1e6 * r['2']:11.1f}{r['1'] / s:10.2f}"
              f"{r['2'] / s:10.2f}{str(r['identical']):>10}{r['loadavg']:6.1f}")
    print("  compile in this process (s; later shapes reuse the first's signature):")
    for k, v in par["compile_s"].items():
        print(f"    {k:<40} serial twin {v['serial']:6.2f}   "
              f"parallel {v['parallel']:6.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "bench_dispatch",
                                     "argv": sys.argv[1:],
                                     "dispatch_s": dict(rows), "parallel": par},
                                    indent=1, default=str))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
