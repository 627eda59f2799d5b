"""Where the first run's compile time goes, and what would save it.

One question: with an empty Numba cache, how long does skmoe compile, kernel
by kernel, and how much would each of these save: a serial twin instead of
``parallel=True``, no array-slice assignments or f-string errors (which pull
in Numba's string helpers), eager signatures, smaller kernels, loading from
the on-disk cache? And can a generic compiled EM loop take a family's kernel
as an argument and still be cached on disk (numba 0.68.1)?

Every measurement runs in a fresh subprocess with ``NUMBA_CACHE_DIR`` set to
a new empty directory, and times compilations with Numba's event API
(``numba.core.event``, kind ``"numba:compile"``): each compilation's
inclusive time and its self time (inclusive minus the compilations it
triggered). Parts (``--parts``):

``demo``
    ``skmoe demo`` (``python -m skmoe demo``'s ``main``), cold then warm:
    wall time, and the compile time of every dispatcher it compiles, grouped
    as skmoe kernels (with their inclusive times), Numba's string helpers
    (``unicode``, ``repr``, ``str``, ``join``, the shape-error formatter
    ``raise_with_shape_context``) and other Numba internals (``np.zeros``,
    ``np.dot``, linear algebra).
``constructs``
    The marginal compile time of a small kernel written with one construct
    (after a warm-up compilation in the same process): an element loop, an
    array-slice assignment ``a[:] = b`` / row assignment ``a[i] = b``, an
    in-place array ``+=``, ``np.zeros``, a constant error message, an
    f-string error message, ``np.dot``, ``np.linalg.solve``.
``parallel``
    Each of skmoe's kernels with a parallel twin (``<kernel>_parallel``, whose
    ``prange`` over the chunks is the only ``parallel=True`` code), the twin
    against the serial kernel, each alone in a fresh process after a warm-up
    compilation. (The ``split`` prototype of the fused pass that this file
    held before issue 16 is now skmoe's own layout.)
``eager``
    The same kernel compiled lazily (first call) and eagerly (explicit
    signature, at decoration time); and the per-call overhead of both.
``cache``
    Per kernel of the demo: first call in a process with a cold cache
    (compile and save) and with a warm one (load).
``dispatch-arg``
    A generic jitted EM-like loop ``loop(kernel, X, ...)`` that receives a
    family kernel (a ``@njit`` dispatcher) as an argument: is it cached on
    disk (``cache=True``: cache hits in a second process), and what does each
    new (gate, expert) pair of kernels cost to compile? Compared with a
    ``kind``-switch loop (all families in one cached function) and with a
    closure factory (a loop built per pair).
``import``
    ``python -X importtime -c "import skmoe"`` against ``import sklearn``:
    totals (median of 5 fresh processes) and the top offenders.
``first-run``
    The figures of issue 16's target 3 side by side: ``python -m skmoe
    demo`` with an empty cache and then warm (median over fresh cache
    directories): seconds to the first line of output, wall and CPU time,
    the compilation (cold minus warm), and ``import skmoe`` against
    ``import sklearn`` (and the estimator against ``sklearn.base``), with
    the load before and after. Every process has its bytecode cached, as
    after ``pip install .`` (``PYTHONDONTWRITEBYTECODE`` removed,
    ``PYTHONPYCACHEPREFIX`` a fresh directory, written by a first demo that
    is not measured); the imports are timed again
    with ``PYTHONDONTWRITEBYTECODE=1``, where skmoe's source compiles at every
    import (an editable checkout in a sandbox that sets it). With
    ``PYTHONPATH`` set to another checkout, that checkout is measured.
``compile-ab``
    The cold ``skmoe demo``'s compile CPU, this checkout against another one
    (``--base DIR``, e.g. ``git -C <main> archive HEAD | tar -x -C DIR``) in
    alternating pairs of fresh processes with empty caches (``--pairs``):
    the CPU seconds of every compilation (the sum of the self times, on the
    compiling thread's clock, which the load inflates less than wall time),
    the process CPU and the fit time the demo prints.

Usage::

    python benchmarks/bench_compile.py                      # all parts
    python benchmarks/bench_compile.py --parts demo import
    python benchmarks/bench_compile.py --parts first-run
    python benchmarks/bench_compile.py --parts compile-ab --base /tmp/main --pairs 3
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "bench_compile.json"

#: substrings of the names of Numba's string machinery (error formatting)
STRING_HELPERS = ("unicode", "str_", "_str", "repr", "join", "raise_with_shape",
                  "charseq", "format", "strncpy", "code_point", "kind_to",
                  "pick_kind", "ol_ord", "concat", "integer_str", "empty_string")

# Compile-event recorder, pasted into every subprocess.
RECORDER = textwrap.dedent('''
    import time as _time
    from numba.core import event as _event

    class _Recorder(_event.Listener):
        def __init__(self):
            self.stack, self.records = [], []
        def on_start(self, ev):
            f = getattr(ev.data["dispatcher"], "py_func", ev.data["dispatcher"])
            self.stack.append([getattr(f, "__qualname__", str(f)),
                               getattr(f, "__module__", None) or "",
                               _time.perf_counter(), 0.0, len(self.stack)])
        def on_end(self, ev):
            name, mod, t0, child, depth = self.stack.pop()
            incl = _time.perf_counter() - t0
            if self.stack:
                self.stack[-1][3] += incl
            self.records.append({"name": name, "module": mod, "incl": incl,
                                 "self": incl - child, "depth": depth})

    _REC = _Recorder()
    _event.register("numba:compile", _REC)
''')


def run_child(code, cache_dir=None, timeout=1800):
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RECORDER + textwrap.dedent(code)],
                         env=env, capture_output=True, text=True, timeout=timeout,
                         cwd=str(HERE))
    wall = time.perf_counter() - t0
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["process_wall_s"] = wall
    return rec


def classify(r):
    name = r["name"] + " " + r["module"]
    if r["module"].startswith("skmoe") or r["module"].startswith("_minimal"):
        return "skmoe"
    if any(s in name for s in STRING_HELPERS):
        return "string helpers"
    return "numba internals"


def summarize(records):
    out = {"skmoe": 0.0, "string helpers": 0.0, "numba internals": 0.0}
    for r in records:
        out[classify(r)] += r["self"]
    return out


# --------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------
DEMO_CODE = """
import contextlib, io, json, sys, time
t0 = time.perf_counter()
import skmoe
from skmoe.__main__ import main
t1 = time.perf_counter()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    try:
        main(["demo"])
    except SystemExit:
        pass
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "demo_s": t2 - t1, "records": _REC.records}))
"""


def part_demo(args):
    res = {}
    with tempfile.TemporaryDirectory(prefix="skmoe-cold-") as tmp:
        cold = run_child(DEMO_CODE, tmp)
        warm = run_child(DEMO_CODE, tmp)
    res["cold"] = {k: v for k, v in cold.items() if k != "records"}
    res["warm"] = {k: v for k, v in warm.items() if k != "records"}
    recs = cold["records"]
    res["total_compile_s"] = sum(r["self"] for r in recs)
    res["by_group"] = summarize(recs)
    top = [r for r in recs if r["depth"] == 0]
    top.sort(key=lambda r: -r["incl"])
    res["top_level"] = top
    skm = sorted((r for r in recs if classify(r) == "skmoe"), key=lambda r: -r["self"])
    res["skmoe_self"] = skm
    res["n_compilations"] = len(recs)
    res["warm_compilations"] = len(warm["records"])
    res["load"] = os.getloadavg()[0]
    print(f"\ndemo (load {res['load']:.1f}): cold process "
          f"{cold['process_wall_s']:.1f} s wall (import {cold['import_s']:.2f} s, "
          f"demo {cold['demo_s']:.1f} s); warm "
          f"process {warm['process_wall_s']:.1f} s (import {warm['import_s']:.2f} s, "
          f"demo {warm['demo_s']:.2f} s, {res['warm_compilations']} compilations)")
    print(f"  cold: {len(recs)} compilations, {res['total_compile_s']:.1f} s in total: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in res["by_group"].items()))
    print("  kernels called from Python (inclusive of what they compiled):")
    for r in top:
        print(f"    {r['incl']:7.2f} s  {r['module']}.{r['name']}")
    print("  skmoe functions by self time (top 12):")
    for r in skm[:12]:
        print(f"    {r['self']:7.2f} s  {r['module']}.{r['name']}")
    return res


# --------------------------------------------------------------------------
# constructs
# --------------------------------------------------------------------------
CONSTRUCTS = {
    "element loop": "for i in range(a.shape[0]):\n    for j in range(a.shape[1]):\n"
                    "        a[i, j] = b[i, j]\nreturn a",
    "slice assign a[:] = b": "a[:] = b\nreturn a",
    "row assign a[0] = b[1]": "a[0] = b[1]\nreturn a",
    "in-place a += b": "a += b\nreturn a",
    "np.zeros": "return np.zeros(a.shape[0])",
    "raise, constant message": "if a.shape[0] != b.shape[0]:\n"
                               "    raise ValueError('shape mismatch')\nreturn a",
    "raise, f-string message": "if a.shape[0] != b.shape[0]:\n"
                               "    raise ValueError(f'{a.shape[0]} != {b.shape[0]}')\n"
                               "return a",
    "np.dot(a, b.T)": "return np.dot(a, b.T)",
    "np.linalg.solve": "return np.linalg.solve(a, b[0])",
}

CONSTRUCT_CODE = """
import json, time
import numpy as np
from numba import njit
@njit
def warm(x):
    return x + 1.0
warm(1.0)
_REC.records.clear()
ns = {{"np": np}}
exec({src!r}, ns)
f = njit(ns["f"])
a = np.eye(4) + 1.0
b = np.ones((4, 4))
t0 = time.perf_counter()
f(a, b)
t1 = time.perf_counter()
print(json.dumps({{"first_call_s": t1 - t0, "records": _REC.records}}))
"""


def part_constructs(args):
    rows = []
    for label, body in CONSTRUCTS.items():
        src = "def f(a, b):\n" + textwrap.indent(body, "    ") + "\n"
        times = []
        for _ in range(args.compile_repeats):
            with tempfile.TemporaryDirectory() as tmp:
                rec = run_child(CONSTRUCT_CODE.format(src=src), tmp)
            times.append(rec)
        med = float(np.median([r["first_call_s"] for r in times]))
        groups = summarize(times[-1]["records"])
        rows.append({"construct": label, "compile_s": med,
                     "string_helpers_s": groups["string helpers"],
                     "n_compilations": len(times[-1]["records"]),
                     "load": os.getloadavg()[0]})
    print(f"\nconstructs: marginal compile time of a two-line kernel (median of "
          f"{args.compile_repeats} fresh processes, after a warm-up compilation)")
    print(f"  {'construct':<28}{'compile s':>10}{'string helpers s':>18}"
          f"{'compilations':>14}{'load':>6}")
    for r in rows:
        print(f"  {r['construct']:<28}{r['compile_s']:10.2f}"
              f"{r['string_helpers_s']:18.2f}{r['n_compilations']:14d}{r['load']:6.1f}")
    return rows


# --------------------------------------------------------------------------
# parallel vs serial twin
# --------------------------------------------------------------------------
PARALLEL_KERNELS = [
    ("skmoe._kernels._fused", "fused_estep_statistics"),
    ("skmoe._kernels._linear", "linear_expert_suffstats"),
    ("skmoe._kernels._gaussian", "gaussian_estep_linear"),
    ("skmoe._kernels._softmax", "softmax_gate_objective"),
]

PARALLEL_CODE = """
import importlib, json, sys, time
import numpy as np
from numba import njit
sys.path.insert(0, ".")
from bench_compile import kernel_args
@njit
def warm(x):
    return x + 1.0
warm(1.0)
mod = importlib.import_module({mod!r})
fn = getattr(mod, {name!r} + ("_parallel" if {parallel} else ""))
a = kernel_args({name!r})
_REC.records.clear()
t0 = time.perf_counter()
fn(*a)
t1 = time.perf_counter()
print(json.dumps({{"first_call_s": t1 - t0, "records": _REC.records}}))
"""


def kernel_args(name, n=200, d=2, K=2):
    """Arguments of a skmoe kernel on small generated data."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    w = np.ones(n)
    gc = rng.standard_normal((K, d))
    gc[-1] = 0.0
    gb = np.zeros(K)
    ec = rng.standard_normal((K, d))
    ei = rng.standard_normal(K)
    var = np.ones(K)
    R = np.full((n, K), 1.0 / K)
    if name == "fused_estep_statistics":
        return (X, y, w, gc, gb, ec, ei, var, R.copy(), False)
    if name == "weighted_residual_ss":
        return (y, np.ascontiguousarray(X @ ec.T + ei), R)
    if name == "linear_expert_suffstats":
        return (X, y, R, np.hstack([ec, ei[:, None]]), True)
    if name == "gaussian_estep_linear":
        return (X, y, gc, gb, ec, ei, var)
    if name == "softmax_gate_objective":
        return (X, gc, gb, R, True)
    raise KeyError(name)


def part_parallel(args):
    rows = []
    for mod, name in PARALLEL_KERNELS:
        row = {"kernel": name}
        for parallel in (True, False):
            ts, strs = [], []
            for _ in range(args.compile_repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    rec = run_child(PARALLEL_CODE.format(mod=mod, name=name,
                                                         parallel=parallel), tmp)
                ts.append(rec["first_call_s"])
                strs.append(summarize(rec["records"])["string helpers"])
            key = "parallel" if parallel else "serial"
            row[key + "_s"] = float(np.median(ts))
            row[key + "_string_helpers_s"] = float(np.median(strs))
        row["load"] = os.getloadavg()[0]
        rows.append(row)
    print(f"\nparallel twin against the serial kernel: compile time of each alone "
          f"(median of {args.compile_repeats} fresh processes)")
    print(f"  {'kernel':<26}{'parallel s':>11}{'(strings)':>10}{'serial s':>10}"
          f"{'(strings)':>10}{'saved s':>9}{'load':>6}")
    for r in rows:
        print(f"  {r['kernel']:<26}{r['parallel_s']:11.2f}"
              f"{r['parallel_string_helpers_s']:10.2f}{r['serial_s']:10.2f}"
              f"{r['serial_string_helpers_s']:10.2f}"
              f"{r['parallel_s'] - r['serial_s']:9.2f}{r['load']:6.1f}")
    return rows


# --------------------------------------------------------------------------
# eager signatures
# --------------------------------------------------------------------------
EAGER_CODE = """
import json, sys, time
import numpy as np
from numba import njit
sys.path.insert(0, ".")
from bench_compile import kernel_args
import skmoe._kernels._gaussian as kg
@njit
def warm(x):
    return x + 1.0
warm(1.0)
a = kernel_args("weighted_residual_ss")
py_func = kg.weighted_residual_ss.py_func
t0 = time.perf_counter()
if {eager}:
    fn = njit("float64[::1](float64[::1], float64[:, ::1], float64[:, ::1])")(
        py_func)
else:
    fn = njit(py_func)
t1 = time.perf_counter()
fn(*a)
t2 = time.perf_counter()
calls = 20000
t3 = time.perf_counter()
small = kernel_args("weighted_residual_ss", n=4)
for _ in range(calls):
    fn(*small)
t4 = time.perf_counter()
print(json.dumps({{"decorate_s": t1 - t0, "first_call_s": t2 - t1,
                  "per_call_s": (t4 - t3) / calls, "records": []}}))
"""


def part_eager(args):
    res = {}
    for eager in (False, True):
        recs = []
        for _ in range(args.compile_repeats):
            with tempfile.TemporaryDirectory() as tmp:
                recs.append(run_child(EAGER_CODE.format(eager=eager), tmp))
        res["eager" if eager else "lazy"] = {
            k: float(np.median([r[k] for r in recs]))
            for k in ("decorate_s", "first_call_s", "per_call_s")}
    res["load"] = os.getloadavg()[0]
    print(f"\neager signature vs lazy, weighted_residual_ss (median of "
          f"{args.compile_repeats} fresh processes; load {res['load']:.1f})")
    for k, v in res.items():
        if k == "load":
            continue
        print(f"  {k:<6} decoration {v['decorate_s']:6.2f} s, first call "
              f"{v['first_call_s']:6.2f} s, then {1e9 * v['per_call_s']:6.0f} ns per "
              "call (n=4)")
    return res


# --------------------------------------------------------------------------
# cache loads vs compiles, kernel by kernel
# --------------------------------------------------------------------------
CACHE_CODE = """
import importlib, json, sys, time
import numpy as np
sys.path.insert(0, ".")
from bench_compile import kernel_args, PARALLEL_KERNELS
import numba
t = {}
@numba.njit
def warm(x):
    return x + 1.0
warm(1.0)
for mod, name in PARALLEL_KERNELS:
    fn = getattr(importlib.import_module(mod), name)
    a = kernel_args(name)
    t0 = time.perf_counter()
    fn(*a)
    t[name] = time.perf_counter() - t0
print(json.dumps({"first_call_s": t, "records": _REC.records}))
"""


CACHE_ONE_CODE = """
import importlib, json, sys, time
sys.path.insert(0, ".")
from bench_compile import kernel_args
import numba
@numba.njit
def warm(x):
    return x + 1.0
warm(1.0)
fn = getattr(importlib.import_module({mod!r}), {name!r})
a = kernel_args({name!r})
t0 = time.perf_counter()
fn(*a)
t1 = time.perf_counter()
fn(*a)
t2 = time.perf_counter()
print(json.dumps({{"first_call_s": t1 - t0, "second_call_s": t2 - t1,
                  "records": _REC.records}}))
"""


def part_cache(args):
    with tempfile.TemporaryDirectory() as tmp:
        cold = run_child(CACHE_CODE, tmp)
        warm = run_child(CACHE_CODE, tmp)
        alone = {}
        for mod, name in PARALLEL_KERNELS:
            rec = run_child(CACHE_ONE_CODE.format(mod=mod, name=name), tmp)
            alone[name] = rec["first_call_s"] - rec["second_call_s"]
    print(f"\ncache=True: first call with a cold cache (compile + save) and a warm one "
          f"(load), in that order in one process each (load {os.getloadavg()[0]:.1f})")
    print(f"  {'kernel':<26}{'cold s':>9}{'warm s':>9}{'warm, alone s':>15}")
    for k in cold["first_call_s"]:
        print(f"  {k:<26}{cold['first_call_s'][k]:9.2f}{warm['first_call_s'][k]:9.3f}"
              f"{alone[k]:15.3f}")
    print("  (warm, alone: first minus second call, the kernel alone in a fresh "
          "process after a warm-up compilation)")
    return {"cold": cold["first_call_s"], "warm": warm["first_call_s"],
            "warm_alone": alone, "load": os.getloadavg()[0]}


# --------------------------------------------------------------------------
# dispatcher-typed arguments and the on-disk cache
# --------------------------------------------------------------------------
DISPATCH_MODULE = '''
"""Generic loop taking family kernels as arguments (written by bench_compile)."""
import numpy as np
from numba import njit, types

SIG_GATE = types.void(types.float64[::1], types.float64[::1])
SIG_EXPERT = types.float64(types.float64, types.float64[:, ::1], types.int64)


@njit(cache=True)
def gate_softmax(z, out):
    m = z.max()
    s = 0.0
    for k in range(z.shape[0]):
        out[k] = np.exp(z[k] - m)
        s += out[k]
    for k in range(z.shape[0]):
        out[k] = np.log(out[k] / s)


@njit(cache=True)
def gate_sigmoid(z, out):
    s = 0.0
    for k in range(z.shape[0]):
        out[k] = 1.0 / (1.0 + np.exp(-z[k]))
        s += out[k]
    for k in range(z.shape[0]):
        out[k] = np.log(out[k] / s)


@njit(cache=True)
def expert_linear(x, P, k):
    return P[k, 0] * x + P[k, 1]


@njit(cache=True)
def expert_tanh(x, P, k):
    return P[k, 0] * np.tanh(P[k, 1] * x + P[k, 2]) + P[k, 3]


@njit(cache=True)
def loop(gate, expert, X, y, G, P, var, n_iter):
    """A toy EM-like pass: responsibilities by the given gate and expert."""
    n = X.shape[0]
    K = G.shape[0]
    z = np.empty(K)
    lw = np.empty(K)
    total = 0.0
    for _ in range(n_iter):
        total = 0.0
        for i in range(n):
            for k in range(K):
                z[k] = G[k, 0] * X[i] + G[k, 1]
            gate(z, lw)
            m = -np.inf
            for k in range(K):
                e = y[i] - expert(X[i], P, k)
                lw[k] += -0.5 * e * e / var[k]
                if lw[k] > m:
                    m = lw[k]
            s = 0.0
            for k in range(K):
                s += np.exp(lw[k] - m)
            total += m + np.log(s)
    return total


@njit(cache=True)
def loop_switch(kind_gate, kind_expert, X, y, G, P, var, n_iter):
    """The same loop, with the families chosen by integer switches."""
    n = X.shape[0]
    K = G.shape[0]
    z = np.empty(K)
    lw = np.empty(K)
    total = 0.0
    for _ in range(n_iter):
        total = 0.0
        for i in range(n):
            for k in range(K):
                z[k] = G[k, 0] * X[i] + G[k, 1]
            if kind_gate == 0:
                gate_softmax(z, lw)
            else:
                gate_sigmoid(z, lw)
            m = -np.inf
            for k in range(K):
                if kind_expert == 0:
                    e = y[i] - expert_linear(X[i], P, k)
                else:
                    e = y[i] - expert_tanh(X[i], P, k)
                lw[k] += -0.5 * e * e / var[k]
                if lw[k] > m:
                    m = lw[k]
            s = 0.0
            for k in range(K):
                s += np.exp(lw[k] - m)
            total += m + np.log(s)
    return total


# first-class functions: the kernels compiled eagerly for one signature each,
# the loop for arguments of FunctionType (kernels called through pointers)
gate_softmax_fp = njit(SIG_GATE, cache=True)(gate_softmax.py_func)
gate_sigmoid_fp = njit(SIG_GATE, cache=True)(gate_sigmoid.py_func)
expert_linear_fp = njit(SIG_EXPERT, cache=True)(expert_linear.py_func)
expert_tanh_fp = njit(SIG_EXPERT, cache=True)(expert_tanh.py_func)
loop_fp = njit(types.float64(
    types.FunctionType(SIG_GATE), types.FunctionType(SIG_EXPERT),
    types.float64[::1], types.float64[::1], types.float64[:, ::1],
    types.float64[:, ::1], types.float64[::1], types.int64), cache=True)(loop.py_func)


def make_loop(gate, expert):
    """A closure factory: one jitted loop per (gate, expert) pair."""
    @njit(cache=True)
    def closure_loop(X, y, G, P, var, n_iter):
        return loop(gate, expert, X, y, G, P, var, n_iter)
    return closure_loop
'''

DISPATCH_CODE = """
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {moddir!r})
import numba
@numba.njit
def warm(x):
    return x + 1.0
warm(1.0)
t_import = time.perf_counter()
import _dispatch_proto as m
t_import = time.perf_counter() - t_import
rng = np.random.default_rng(0)
X = rng.standard_normal(200); y = rng.standard_normal(200)
G = rng.standard_normal((3, 2)); P = rng.standard_normal((3, 4)); var = np.ones(3)
out = {{}}
pairs = [("gate_softmax", "expert_linear"), ("gate_sigmoid", "expert_linear"),
         ("gate_softmax", "expert_tanh"), ("gate_sigmoid", "expert_tanh")]
caught = []
with warnings.catch_warnings(record=True) as wlist:
    warnings.simplefilter("always")
    for g, e in pairs:
        t0 = time.perf_counter()
        v1 = m.loop(getattr(m, g), getattr(m, e), X, y, G, P, var, 2)
        t1 = time.perf_counter()
        out["arg " + g + "+" + e] = t1 - t0
    for kg, ke in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        t0 = time.perf_counter()
        m.loop_switch(kg, ke, X, y, G, P, var, 2)
        out["switch %d+%d" % (kg, ke)] = time.perf_counter() - t0
    closures = {{}}
    for g, e in pairs:
        f = m.make_loop(getattr(m, g), getattr(m, e))
        t0 = time.perf_counter()
        f(X, y, G, P, var, 2)
        out["closure " + g + "+" + e] = time.perf_counter() - t0
        closures[g + e] = f
    for g, e in pairs:
        t0 = time.perf_counter()
        m.loop_fp(getattr(m, g + "_fp"), getattr(m, e + "_fp"), X, y, G, P, var, 2)
        out["fn-pointer " + g + "+" + e] = time.perf_counter() - t0
    caught = [str(w.message)[:200] for w in wlist]
# steady state at n = 1e5, one pass, median of 5 (ns per row)
Xb = rng.standard_normal(100000); yb = rng.standard_normal(100000)
def per_row(fn, *a):
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); fn(*a); ts.append(time.perf_counter() - t0)
    return 1e9 * float(np.median(ts)) / Xb.shape[0]
steady = {{}}
for (g, e), (kg, ke) in zip(pairs, [(0, 0), (1, 0), (0, 1), (1, 1)]):
    key = g + "+" + e
    steady["arg " + key] = per_row(m.loop, getattr(m, g), getattr(m, e), Xb, yb, G, P,
                                   var, 1)
    steady["switch " + key] = per_row(m.loop_switch, kg, ke, Xb, yb, G, P, var, 1)
    steady["fn-pointer " + key] = per_row(m.loop_fp, getattr(m, g + "_fp"),
                                          getattr(m, e + "_fp"), Xb, yb, G, P, var, 1)
names = ("loop", "loop_switch", "loop_fp")
hits = {{k: dict(getattr(m, k).stats.cache_hits) for k in names}}
misses = {{k: dict(getattr(m, k).stats.cache_misses) for k in names}}
out["import (eager fn-pointer kernels + loop)"] = t_import
print(json.dumps({{"first_call_s": out, "warnings": caught, "ns_per_row": steady,
                  "hits": {{k: len(v) for k, v in hits.items()}},
                  "misses": {{k: len(v) for k, v in misses.items()}},
                  "records": _REC.records}}))
"""


def part_dispatch_arg(args):
    with tempfile.TemporaryDirectory() as moddir, \
            tempfile.TemporaryDirectory() as cache:
        Path(moddir, "_dispatch_proto.py").write_text(DISPATCH_MODULE)
        first = run_child(DISPATCH_CODE.format(moddir=moddir), cache)
        second = run_child(DISPATCH_CODE.format(moddir=moddir), cache)
    print(f"\ndispatcher-typed arguments and cache=True (load "
          f"{os.getloadavg()[0]:.1f}); first call of each variant, seconds")
    print(f"  {'variant':<40}{'process 1':>10}{'process 2':>10}")
    for k in first["first_call_s"]:
        print(f"  {k:<40}{first['first_call_s'][k]:10.3f}"
              f"{second['first_call_s'][k]:10.3f}")
    print(f"  cache hits in process 2: {second['hits']}, misses: {second['misses']}")
    print("  steady state, one pass at n = 1e5 (ns per row, process 2):")
    for k, v in second["ns_per_row"].items():
        print(f"    {k:<44}{v:7.1f}")
    print(f"  compilations in process 2: {len(second['records'])} "
          f"({sorted({r['name'] for r in second['records']})})")
    if second["warnings"]:
        print("  warnings: " + " | ".join(sorted(set(second["warnings"]))))
    return {"process1": {k: v for k, v in first.items() if k != "records"},
            "process2": {k: v for k, v in second.items() if k != "records"},
            "process2_compiled": sorted({r["name"] for r in second["records"]}),
            "load": os.getloadavg()[0]}


# --------------------------------------------------------------------------
# import time
# --------------------------------------------------------------------------
def importtime(module, repeats):
    totals, last = [], None
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c",
                              f"import {module}"], capture_output=True, text=True,
                             check=True)
        rows = []
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            parts = line[len("import time:"):].split("|")
            rows.append((int(parts[0]), int(parts[1]), parts[2].rstrip()))
        top = [r for r in rows if not r[2].startswith("  ")]
        totals.append(sum(r[1] for r in top) / 1e6)
        last = rows
    return float(np.median(totals)), last


def part_import(args):
    res = {}
    for mod in ("sklearn", "skmoe"):
        total, rows = importtime(mod, 5)
        res[mod] = {"median_s": total}
        res[mod + "_rows"] = rows
    print(f"\nimport time (python -X importtime, median of 5 fresh processes; load "
          f"{os.getloadavg()[0]:.1f}): sklearn {res['sklearn']['median_s']:.2f} s, "
          f"skmoe {res['skmoe']['median_s']:.2f} s, difference "
          f"{res['skmoe']['median_s'] - res['sklearn']['median_s']:.2f} s")
    rows = res["skmoe_rows"]
    skl = {r[2].strip() for r in res["sklearn_rows"]}
    extra = [r for r in rows if r[2].strip() not in skl]
    print(f"  modules imported by skmoe and not by sklearn: {len(extra)}, "
          f"{sum(r[0] for r in extra) / 1e3:.0f} ms of self time (last run)")
    # the importer of a module is the next row with a smaller indent
    # (importtime prints children before their parent)
    indent = [len(r[2]) - len(r[2].lstrip()) for r in rows]
    direct = []
    for i, (_self_us, cum_us, name) in enumerate(rows):
        parent = next((rows[j][2].strip() for j in range(i + 1, len(rows))
                       if indent[j] < indent[i]), "")
        child = name.strip()
        if (parent.startswith("skmoe") and not child.startswith("skmoe")
                and child not in skl and cum_us > 20_000):
            direct.append((cum_us, child, parent))
    print("  third-party modules that skmoe modules import and sklearn does not "
          "(cumulative ms > 20, importer):")
    for cum_us, child, parent in sorted(direct, reverse=True)[:12]:
        print(f"    {cum_us / 1e3:8.1f} ms  {child:<34} from {parent}")
    res["skmoe_direct_extra_imports"] = [
        {"ms": c / 1e3, "module": ch, "importer": pa} for c, ch, pa in direct]
    del res["sklearn_rows"]
    res["skmoe_rows"] = sorted(rows, key=lambda r: -r[0])[:40]
    return res


# --------------------------------------------------------------------------
# first run: the figures of issue 16's target 3, side by side
# --------------------------------------------------------------------------
def installed_env(pyc_dir):
    """The environment of a process after ``pip install .``: bytecode cached.

    pip writes every module's ``.pyc`` at install time, so an installed
    skmoe, like sklearn, imports without compiling its source. An editable
    checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as in some sandboxes)
    compiles skmoe's ~60 modules at every import instead (~0.2 s), while
    sklearn's come from its installed ``.pyc`` files: that variable is
    removed here and the bytecode goes to ``pyc_dir``
    (``PYTHONPYCACHEPREFIX``), warmed by a first process.
    """
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(pyc_dir))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_demo_process(cache_dir, env):
    """``python -m skmoe demo`` in a fresh process; its timings.

    Returns the wall time to its first line of output and to its exit, and
    its CPU time (user + system, from ``os.wait4``).
    """
    env = dict(env, NUMBA_CACHE_DIR=str(cache_dir), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "skmoe", "demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=str(HERE))
    proc.stdout.readline()
    first = time.perf_counter() - t0
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"skmoe demo exited with {proc.returncode}")
    return {"first_line_s": first, "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def import_seconds(statements, repeats, env):
    """Per statement, the medians over fresh interpreters (run in turn) of
    the wall time of the import (in-process clock, interpreter start-up
    excluded) and of the process's CPU time (interpreter included)."""
    code = ("import time; t0 = time.perf_counter(); {}"
            "; print(time.perf_counter() - t0)")
    runs = {s: [] for s in statements}
    for _ in range(repeats):
        for s in statements:
            proc = subprocess.Popen([sys.executable, "-c", code.format(s)],
                                    env=env, stdout=subprocess.PIPE, text=True,
                                    cwd=str(HERE))
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status):
                raise RuntimeError(f"{s!r} failed")
            runs[s].append((float(out), usage.ru_utime + usage.ru_stime))
    return {s: {"wall_s": float(np.median([r[0] for r in v])),
                "cpu_s": float(np.median([r[1] for r in v]))}
            for s, v in runs.items()}


IMPORTS = ("import sklearn", "import skmoe", "import sklearn.base",
           "from skmoe import MixtureOfExpertsRegressor")


def part_first_run(args):
    """Cold and warm ``skmoe demo``, and the import times, in one run.

    The compile time of the cold demo is the cold process's time minus the
    warm one's (CPU and wall; the median over ``--compile-repeats`` fresh
    cache directories): everything else the two processes do is the same.
    Every process runs with its bytecode cached (:func:`installed_env`); the
    imports are also timed without (``PYTHONDONTWRITEBYTECODE=1``, an
    editable checkout that compiles skmoe's source at every import).
    """
    load0 = os.getloadavg()[0]
    pyc = tempfile.TemporaryDirectory(prefix="skmoe-pyc-")
    env = installed_env(pyc.name)
    # a first demo (compiling in a throwaway cache) writes the bytecode of
    # every module the demo imports, so that no measured process compiles any
    subprocess.run([sys.executable, "-c", "; ".join(IMPORTS)], env=env, check=True)
    with tempfile.TemporaryDirectory(prefix="skmoe-warmup-") as tmp:
        run_demo_process(tmp, env)
    cold, warm = [], []
    for _ in range(args.compile_repeats):
        with tempfile.TemporaryDirectory(prefix="skmoe-cold-") as tmp:
            cold.append(run_demo_process(tmp, env))
            warm.append(run_demo_process(tmp, env))
    med = {}
    for label, runs in (("cold", cold), ("warm", warm)):
        med[label] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    compile_cpu = float(np.median([c["cpu_s"] - w["cpu_s"]
                                   for c, w in zip(cold, warm, strict=True)]))
    compile_wall = float(np.median([c["wall_s"] - w["wall_s"]
                                    for c, w in zip(cold, warm, strict=True)]))
    reps = 5
    imports = import_seconds(IMPORTS, reps, env)
    source_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    source_env.pop("PYTHONPYCACHEPREFIX", None)
    imports_source = import_seconds(IMPORTS, reps, source_env)
    pyc.cleanup()
    load1 = os.getloadavg()[0]
    res = {"cold": med["cold"], "warm": med["warm"], "compile_cpu_s": compile_cpu,
           "compile_wall_s": compile_wall, "imports": imports,
           "imports_without_bytecode_cache": imports_source,
           "load_start": load0, "load_end": load1, "repeats": args.compile_repeats}
    print(f"\nfirst run (issue 16, target 3): python -m skmoe demo, median of "
          f"{args.compile_repeats} fresh cache directories; load {load0:.1f} -> "
          f"{load1:.1f} on {os.cpu_count()} cores")
    print(f"  {'':<10}{'first line s':>13}{'wall s':>9}{'CPU s':>8}")
    for label in ("cold", "warm"):
        m = med[label]
        print(f"  {label:<10}{m['first_line_s']:13.2f}{m['wall_s']:9.2f}"
              f"{m['cpu_s']:8.2f}")
    print(f"  compilation (cold - warm): {compile_cpu:.2f} s CPU, "
          f"{compile_wall:.2f} s wall   (target <= 10 s)")
    print(f"  warm demo wall {med['warm']['wall_s']:.2f} s   (target < 1.5 s); "
          f"first line {med['cold']['first_line_s']:.2f} s cold   (target <= 1 s)")
    for label, imp in (("bytecode cached", imports),
                       ("PYTHONDONTWRITEBYTECODE=1", imports_source)):
        print(f"  imports, {label} (median of {reps} fresh interpreters; "
              "import wall s / process CPU s): "
              + ", ".join(f"{k} {v['wall_s']:.2f} / {v['cpu_s']:.2f}"
                          for k, v in imp.items()))
        est = imp["from skmoe import MixtureOfExpertsRegressor"]
        base = imp["import sklearn.base"]
        print(f"    import skmoe - import sklearn: "
              f"{imp['import skmoe']['wall_s'] - imp['import sklearn']['wall_s']:+.2f}"
              f" s wall; the estimator - import sklearn.base: "
              f"{est['wall_s'] - base['wall_s']:+.2f} s wall, "
              f"{est['cpu_s'] - base['cpu_s']:+.2f} s CPU   (target <= +0.3 s)")
    return res


# --------------------------------------------------------------------------
# compile-ab
# --------------------------------------------------------------------------
COMPILE_AB_CODE = """
import contextlib, io, json, time
from numba.core import event

class CPU(event.Listener):
    def __init__(self):
        self.stack, self.total = [], 0.0
    def on_start(self, ev):
        self.stack.append([time.thread_time(), 0.0])
    def on_end(self, ev):
        t0, child = self.stack.pop()
        incl = time.thread_time() - t0
        if self.stack:
            self.stack[-1][1] += incl
        self.total += incl - child

rec = CPU()
event.register("numba:compile", rec)
c0 = time.process_time()
from skmoe.__main__ import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    main(["demo"])
fit = [line for line in buf.getvalue().splitlines() if line.startswith("fit time")]
print(json.dumps({"compile_cpu_s": rec.total, "process_cpu_s": time.process_time() - c0,
                  "fit_s": float(fit[0].split(":")[1].split()[0])}))
"""


def part_compile_ab(args):
    if args.base is None:
        raise SystemExit("--parts compile-ab needs --base DIR (another checkout)")
    sides = {"base": str(Path(args.base).resolve()), "this": str(HERE.parent)}
    runs = {side: [] for side in sides}
    print(f"\ncompile-ab: cold skmoe demo, {args.pairs} alternating pairs "
          f"(base {sides['base']})")
    for _ in range(args.pairs):
        for side, path in sides.items():
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory(prefix="skmoe-ab-") as tmp:
                env = dict(os.environ, NUMBA_CACHE_DIR=tmp, PYTHONPATH=path)
                out = subprocess.run([sys.executable, "-c", COMPILE_AB_CODE],
                                     env=env, capture_output=True, text=True,
                                     cwd=tmp, check=True)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            rec["load"] = load
            runs[side].append(rec)
            print(f"  {side:4s} compile {rec['compile_cpu_s']:5.2f} s CPU, process "
                  f"{rec['process_cpu_s']:5.2f} s CPU, fit {rec['fit_s']:5.2f} s "
                  f"(load {load:.1f})", flush=True)
    med = {side: {k: float(np.median([r[k] for r in rs])) for k in
                  ("compile_cpu_s", "process_cpu_s", "fit_s")}
           for side, rs in runs.items()}
    diffs = [b["compile_cpu_s"] - t["compile_cpu_s"]
             for b, t in zip(runs["base"], runs["this"], strict=True)]
    print(f"  medians: compile {med['base']['compile_cpu_s']:.2f} -> "
          f"{med['this']['compile_cpu_s']:.2f} s CPU, process "
          f"{med['base']['process_cpu_s']:.2f} -> {med['this']['process_cpu_s']:.2f}"
          f" s CPU, fit {med['base']['fit_s']:.2f} -> {med['this']['fit_s']:.2f} s;"
          f" {sum(d > 0 for d in diffs)} of {len(diffs)} pairs compile less here")
    return {"runs": runs, "medians": med}


PARTS = {"demo": part_demo, "constructs": part_constructs, "parallel": part_parallel,
         "eager": part_eager, "cache": part_cache,
         "dispatch-arg": part_dispatch_arg, "import": part_import,
         "first-run": part_first_run, "compile-ab": part_compile_ab}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", nargs="+",
                   default=[part for part in PARTS if part != "compile-ab"],
                   choices=list(PARTS))
    p.add_argument("--compile-repeats", type=int, default=3,
                   help="fresh processes per compile figure (median)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    p.add_argument("--base", help="compile-ab: the other checkout's directory")
    p.add_argument("--pairs", type=int, default=3,
                   help="compile-ab: alternating pairs (default: %(default)s)")
    args = p.parse_args(argv)
    import numba

    print(f"numba {numba.__version__}, python {sys.version.split()[0]}, "
          f"nproc={os.cpu_count()}, load {os.getloadavg()}")
    results = {}
    for part in args.parts:
        results[part] = PARTS[part](args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(args.json.read_text()) if args.json.exists() else {}
    old.update(results)
    args.json.write_text(json.dumps(old, indent=1, default=str))
    print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
